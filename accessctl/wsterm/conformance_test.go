package wsterm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
	srv := wsterm.NewServer(wsterm.WithSink(sink), wsterm.WithTimeouts(5*time.Second))
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

// Status events follow the rules of pass events: an online the sink refuses
// is emitted again, with its id, at the next heartbeat (it used to be
// logged and lost); a terminal that connects again while believed online
// (a reboot inside the offline window) is a new online event.
func TestStatusEventsAreRetried(t *testing.T) {
	sink := accessctltest.NewSink()
	sink.RefuseNext(accessctl.KindOnline, 2)
	// A takeover bound below the heartbeat lets the twin below stand for a
	// terminal that rebooted: its old socket is open but no longer speaks.
	srv := wsterm.NewServer(wsterm.WithSink(sink), wsterm.WithTimeouts(5*time.Second), wsterm.WithTakeoverAfter(time.Millisecond))
	ts := newHTTPServer(t, srv)
	url := "ws" + ts.URL[len("http"):] + "/"
	term := wstermtest.NewTerminal(url, wstermtest.WithSN("st-1"), wstermtest.WithHeartbeat(20*time.Millisecond), wstermtest.WithTransport(fastBackoff))
	t.Cleanup(func() { _ = term.Close(); _ = srv.Close(); ts.Close() })
	online := func() []accessctltest.Delivery { return sink.Of(accessctl.KindOnline) }
	require.Eventually(t, func() bool { return len(online()) == 3 }, 10*time.Second, 5*time.Millisecond)
	ds := online()
	assert.True(t, ds[0].Refused)
	assert.True(t, ds[1].Refused)
	assert.False(t, ds[2].Refused)
	assert.Equal(t, ds[0].Event.ID, ds[2].Event.ID, "the same event, the same id")
	assert.Contains(t, ds[2].Event.ID, "st-1/online/")

	// The same terminal again on a new socket, before the old one is seen
	// closed: the old (silent) session is replaced, and the host hears of it.
	twin := wstermtest.NewTerminal(url, wstermtest.WithSN("st-1"), wstermtest.WithTransport(fastBackoff))
	t.Cleanup(func() { _ = twin.Close() })
	require.NoError(t, twin.WaitRegistered(ctxT(t)))
	require.Eventually(t, func() bool { return len(online()) >= 4 }, 10*time.Second, 5*time.Millisecond)
	assert.NotEqual(t, ds[2].Event.ID, online()[3].Event.ID)
	st := srv.Stats()
	assert.Equal(t, uint64(2), st.Refused)
	assert.Equal(t, uint64(1), st.Retried)
	assert.Zero(t, st.Dropped)
}
