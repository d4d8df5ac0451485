package wsterm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// fixture runs the lead's conformance suite against a wsterm Server and a
// simulated terminal over real WebSockets on 127.0.0.1.
func fixture(t *testing.T) accessctltest.Fixture {
	sink := accessctltest.NewSink()
	srv := wsterm.NewServer(sink, wsterm.WithTimeouts(5*time.Second))
	ts := newHTTPServer(t, srv)
	url := "ws" + ts.URL[len("http"):] + "/"
	term := wstermtest.NewTerminal(url, wstermtest.WithSN("conf-1"), wstermtest.WithTransport(fastBackoff))
	t.Cleanup(func() {
		_ = term.Close()
		_ = srv.Close()
		ts.Close()
	})
	e := &env{srv: srv, ts: ts, url: url}
	require.NoError(t, term.WaitRegistered(ctxT(t)))
	e.waitOnline(t, "conf-1", true)
	dev, err := srv.Open(ctxT(t), accessctl.DeviceConfig{ID: "conf-1"})
	require.NoError(t, err)
	return accessctltest.Fixture{
		Device:     dev,
		Disconnect: term.Disconnect,
		Reconnect: func() {
			term.Reconnect()
			require.NoError(t, term.WaitRegistered(ctxT(t)))
		},
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "n-" + id,
				Credentials: []accessctl.Credential{face()}}
		},
		// a password rides along a face; alone the terminal cannot hold it
		CredentialKinds: []accessctl.CredentialKind{accessctl.CredFace},
		Credential:      func(accessctl.CredentialKind, string) accessctl.Credential { return face() },
		Holds: func(id string) (string, bool) {
			u, ok := term.User(id)
			return u.Name, ok
		},
		TriggerPass: func(id string) {
			go func() { _, _ = term.Pass(context.Background(), id, "0") }()
		},
		Sink: sink,
		Acks: func() int { return term.Stats().EventsAcked },
	}
}

func face() accessctl.Credential {
	return accessctl.Credential{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: jpeg, MIME: "image/jpeg"}}
}

func TestConformance(t *testing.T) {
	accessctltest.TestDevice(t, fixture)
	accessctltest.TestPermissionSync(t, fixture)
	accessctltest.TestEvents(t, fixture)
}
