package stdproto_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

func fixture(t *testing.T) accessctltest.Fixture {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-CONF-01")
	return accessctltest.Fixture{
		Device:     dev,
		Disconnect: func() { require.NoError(t, sim.Pause()) },
		Reconnect: func() {
			require.NoError(t, sim.Resume())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, sim.WaitConnected(ctx))
			waitOnline(t, dev, true)
		},
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{
				Person: accessctl.PersonRef{ID: id}, Name: "name-" + id,
				Credentials: []accessctl.Credential{
					{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: stdprototest.Photo(id)}},
					{Kind: accessctl.CredCard, Value: "C" + id},
				},
			}
		},
		Holds: func(id string) (string, bool) {
			f, ok := sim.Face(id)
			return f.UserName, ok
		},
		DoorOpens:   sim.DoorOpens,
		TriggerPass: func(id string) { _, err := sim.PassFace(context.Background(), id, 0.9); require.NoError(t, err) },
		Events:      r.sink.ch,
	}
}

func TestConformanceDevice(t *testing.T)         { accessctltest.TestDevice(t, fixture) }
func TestConformancePermissionSync(t *testing.T) { accessctltest.TestPermissionSync(t, fixture) }
func TestConformanceEvents(t *testing.T)         { accessctltest.TestEvents(t, fixture) }

var _ accessctl.Driver = (*stdproto.Edge)(nil)
