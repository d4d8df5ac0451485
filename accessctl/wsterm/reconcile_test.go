package wsterm_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// reconcileEnv is a server whose events pass through a reconciler's Watch.
func reconcileEnv(t *testing.T) (*reconcile.Reconciler, *env) {
	t.Helper()
	rc, err := reconcile.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { // registered first: runs after the server is closed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Close(ctx)
	})
	srv := wsterm.NewServer(wsterm.WithSink(rc.Watch(accessctltest.NewSink())), wsterm.WithTimeouts(5*time.Second))
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { _ = srv.Close(); ts.Close() })
	return rc, &env{srv: srv, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/"}
}

func wsGrant(id string) accessctl.Grant {
	return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "n-" + id, Credentials: []accessctl.Credential{face()}}
}

func attach(t *testing.T, rc *reconcile.Reconciler, e *env, sn string) accessctl.DeviceRef {
	t.Helper()
	dev, err := e.srv.Open(ctxT(t), accessctl.DeviceConfig{ID: sn})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	st, err := dev.Status(ctxT(t))
	require.NoError(t, err)
	require.NoError(t, rc.Attach(st.Device, dev.(accessctl.PermissionSync)))
	return st.Device
}

// A terminal wiped and registered again (a fresh 205 on a new socket)
// converges back to the desired state: the registration is an online event
// and the reconciler, watching the server's events, reads each person back
// and pushes what the terminal lost.
func TestReconcileRestoresAResetTerminal(t *testing.T) {
	rc, e := reconcileEnv(t)
	term := e.terminal(t, "rc-reset")
	ref := attach(t, rc, e, "rc-reset")
	require.NoError(t, rc.Set(ctxT(t), ref, []accessctl.Grant{wsGrant("p-1"), wsGrant("p-2")}))
	require.Eventually(t, func() bool { return len(term.Users()) == 2 }, 10*time.Second, 10*time.Millisecond, "the desired persons reach the terminal")
	require.NoError(t, rc.Wait(ctxT(t)))

	// The same unit after a factory reset: same serial number, no users.
	require.NoError(t, term.Close())
	again := wstermtest.NewTerminal(e.url, wstermtest.WithSN("rc-reset"), wstermtest.WithTransport(fastBackoff))
	t.Cleanup(func() { _ = again.Close() })
	require.NoError(t, again.WaitRegistered(ctxT(t)))

	require.Eventually(t, func() bool { return len(again.Users()) == 2 }, 10*time.Second, 10*time.Millisecond,
		"the reconciler puts the persons back after the terminal's reset")
	for _, id := range []string{"p-1", "p-2"} {
		u, ok := again.User(id)
		require.True(t, ok)
		assert.Equal(t, "n-"+id, u.Name)
	}
}

// A terminal that already holds three persons, attached before the host
// declared anything, still holds them once the reconciler settled.
func TestReconcileLeavesAPreloadedTerminalAlone(t *testing.T) {
	rc, e := reconcileEnv(t)
	var users []wsterm.User
	for _, id := range []string{"p-1", "p-2", "p-3"} {
		users = append(users, wsterm.User{UserID: id, Name: "pre-" + id, Img: jpegB64})
	}
	term := e.terminal(t, "rc-preload", wstermtest.WithUsers(users...))
	attach(t, rc, e, "rc-preload")
	require.NoError(t, rc.Wait(ctxT(t)))
	assert.Len(t, term.Users(), 3, "nothing is removed before the host declared the device")
}
