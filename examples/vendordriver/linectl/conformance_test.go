package linectl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/examples/vendordriver/linectl"
	"github.com/menjin/menjin/examples/vendordriver/linectl/linectltest"
)

var (
	_ accessctl.Driver         = (*linectl.Server)(nil)
	_ accessctl.DeviceLister   = (*linectl.Server)(nil)
	_ accessctl.Device         = (*linectl.Device)(nil)
	_ accessctl.PermissionSync = (*linectl.Device)(nil)
)

func waitOnline(t *testing.T, d accessctl.Device) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := d.Status(context.Background())
		return err == nil && st.Online
	}, 10*time.Second, 5*time.Millisecond, "device online")
}

// fixture runs a server on a durable store ledger and one simulated device.
func fixture(t *testing.T) accessctltest.Fixture {
	db, err := store.Open(t.TempDir())
	require.NoError(t, err)
	sink := accessctltest.NewSink()
	start := func(addr string) (*linectl.Server, *linectl.Device) {
		srv, err := linectl.NewServer(linectl.WithAddr(addr), linectl.WithDevice("sn-1", "s3cret"),
			linectl.WithSink(sink), linectl.WithLedger(db.Ledger()))
		require.NoError(t, err)
		dev, err := srv.Device("sn-1")
		require.NoError(t, err)
		return srv, dev
	}
	srv, dev := start("127.0.0.1:0")
	sim, err := linectltest.Start(srv.Addr(), "sn-1", "s3cret")
	require.NoError(t, err)
	t.Cleanup(func() {
		sim.Close()
		_ = srv.Close()
		_ = db.Close()
	})
	waitOnline(t, dev)
	return accessctltest.Fixture{
		Device:     dev,
		Disconnect: sim.Disconnect,
		Reconnect:  func() { require.NoError(t, sim.Connect()); waitOnline(t, dev) },
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "Name " + id,
				Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "card-" + id}}}
		},
		CredentialKinds: []accessctl.CredentialKind{accessctl.CredCard},
		Credential: func(_ accessctl.CredentialKind, id string) accessctl.Credential {
			return accessctl.Credential{Kind: accessctl.CredCard, Value: "card-" + id}
		},
		KeepsState: true,
		Restart: func() accessctl.PermissionSync {
			addr := srv.Addr()
			require.NoError(t, srv.Close())
			srv, dev = start(addr) // the same port: the device dials it again
			require.NoError(t, sim.Connect())
			waitOnline(t, dev)
			return dev
		},
		Holds:     sim.Holds,
		DoorOpens: sim.DoorOpens,
		TriggerPass: func(id string) {
			g := accessctl.Grant{Person: accessctl.PersonRef{ID: id},
				Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "card-" + id}}}
			require.NoError(t, dev.PutGrant(context.Background(), g))
			require.True(t, sim.Swipe("card-"+id))
		},
		Sink: sink,
		Acks: sim.Acks,
	}
}

func TestConformance(t *testing.T) {
	accessctltest.TestDevice(t, fixture)
	accessctltest.TestPermissionSync(t, fixture)
	accessctltest.TestEvents(t, fixture)
}
