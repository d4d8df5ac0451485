package wstermtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 10*time.Minute)) }

var fast = wstermtest.WithTransport(transport.WithBackoff(transport.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}))

func setup(t *testing.T, sink accessctl.EventSink, opts ...wstermtest.Option) (*wsterm.Server, *wstermtest.Terminal, *wsterm.Device) {
	t.Helper()
	srv := wsterm.NewServer(wsterm.WithSink(sink), wsterm.WithImageValidation(false))
	ts := httptest.NewServer(srv)
	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", append([]wstermtest.Option{wstermtest.WithSN("S1"), fast}, opts...)...)
	t.Cleanup(func() { _ = term.Close(); _ = srv.Close(); ts.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, term.WaitRegistered(ctx))
	d, err := srv.Device("S1")
	require.NoError(t, err)
	require.Eventually(t, func() bool { st, _ := d.Status(ctx); return st.Online }, 5*time.Second, 5*time.Millisecond)
	return srv, term, d
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAddUserOfAnExistingIDUpdates(t *testing.T) {
	_, term, d := setup(t, nil)
	// The source's editUser example says addUser (C.A.1): the simulator upserts.
	_, err := d.Do(ctx5(t), wsterm.CmdAddUser, wsterm.User{UserID: "1", Name: "first", Img: "x"})
	require.NoError(t, err)
	_, err = d.Do(ctx5(t), wsterm.CmdAddUser, wsterm.User{UserID: "1", Name: "second", Img: "x"})
	require.NoError(t, err)
	require.Len(t, term.Users(), 1)
	u, _ := term.User("1")
	assert.Equal(t, "second", u.Name)
}

func TestEditAndDeleteOfUnknownUsersFail(t *testing.T) {
	_, _, d := setup(t, nil)
	assert.ErrorIs(t, d.EditUser(ctx5(t), wsterm.User{UserID: "nope", Name: "x"}), accessctl.ErrRejected)
	assert.ErrorIs(t, d.DeleteUser(ctx5(t), "nope", ""), accessctl.ErrRejected)
	rep, err := d.Do(ctx5(t), "openDoor", nil)
	require.NoError(t, err)
	assert.Equal(t, wsterm.FlexString("500"), rep.Code)
	assert.Equal(t, "unknown command", rep.Text())
}

func TestSelectAndCompare(t *testing.T) {
	_, _, d := setup(t, nil, wstermtest.WithUsers(
		wsterm.User{UserID: "2", Name: "b", Img: "imgB"}, wsterm.User{UserID: "1", Name: "a", Img: "imgA"}))
	all, err := d.SelectUser(ctx5(t), wsterm.UserQuery{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "1", all[0].UserID, "sorted by id")
	byName, err := d.SelectUser(ctx5(t), wsterm.UserQuery{Name: "b"})
	require.NoError(t, err)
	require.Len(t, byName, 1)
	ok, err := d.CompareUser(ctx5(t), "imgA")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = d.CompareUser(ctx5(t), "other")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestMisbehaviour(t *testing.T) {
	srv := wsterm.NewServer(wsterm.WithTimeouts(500 * time.Millisecond))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", wstermtest.WithSN("S1"), fast)
	defer term.Close()
	require.NoError(t, term.WaitRegistered(ctx5(t)))
	d, _ := srv.Device("S1")
	require.Eventually(t, func() bool { st, _ := d.Status(ctx5(t)); return st.Online }, 5*time.Second, 5*time.Millisecond)

	term.Misbehave(wsterm.CmdSelectUser, wstermtest.Behavior{Code: "500"})
	users, err := d.SelectUser(ctx5(t), wsterm.UserQuery{UserID: "1"})
	require.NoError(t, err, "500 on selectUser is 'not found' (D.9)")
	assert.Empty(t, users)

	term.Misbehave(wsterm.CmdSelectUser, wstermtest.Behavior{Delay: 900 * time.Millisecond})
	_, err = d.SelectUser(ctx5(t), wsterm.UserQuery{UserID: "1"})
	assert.ErrorIs(t, err, accessctl.ErrTimeout)

	term.Misbehave(wsterm.CmdSelectUser, wstermtest.Behavior{Silent: true})
	_, err = d.SelectUser(ctx5(t), wsterm.UserQuery{UserID: "1"})
	assert.ErrorIs(t, err, accessctl.ErrTimeout)

	term.Misbehave(wsterm.CmdSelectUser, wstermtest.Behavior{})
	_, err = d.SelectUser(ctx5(t), wsterm.UserQuery{UserID: "1"})
	assert.NoError(t, err, "back to normal")
	assert.Equal(t, 4, term.Stats().Commands)
	require.Eventually(t, func() bool { return term.Stats().Answered == 3 }, 5*time.Second, 5*time.Millisecond,
		"the late one is answered in the end")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 3, term.Stats().Answered, "the silent one never is")
}

func TestEventsSurviveADisconnect(t *testing.T) {
	got := make(chan accessctl.Event, 16)
	_, term, _ := setup(t, accessctl.Filter(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		got <- e
		return nil
	}), accessctl.KindIs(accessctl.KindPass)))
	term.Disconnect()
	assert.False(t, term.Registered())
	done := make(chan error, 1)
	go func() { _, err := term.Pass(context.Background(), "u1", "1"); done <- err }()
	select {
	case <-got:
		t.Fatal("delivered while disconnected")
	case <-time.After(100 * time.Millisecond):
	}
	term.Reconnect()
	require.NoError(t, <-done)
	e := <-got
	assert.Equal(t, "u1", e.Pass.Person.ID)
	assert.Equal(t, accessctl.DirectionOut, e.Pass.Direction)
	assert.Equal(t, 2, term.Stats().Registrations)
}

func TestDropReconnectsByItself(t *testing.T) {
	_, term, d := setup(t, nil)
	term.Drop()
	require.NoError(t, term.WaitRegistered(ctx5(t)))
	require.Eventually(t, func() bool { return term.Stats().Registrations == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { st, _ := d.Status(ctx5(t)); return st.Online }, 5*time.Second, 5*time.Millisecond)
}

func TestHeartbeatsFollowTheConfiguredPeriod(t *testing.T) {
	_, term, _ := setup(t, nil, wstermtest.WithHeartbeat(20*time.Millisecond))
	require.Eventually(t, func() bool { return term.Stats().Heartbeats >= 3 }, 5*time.Second, 5*time.Millisecond)
}

func TestCloseUnblocksWaiters(t *testing.T) {
	term := wstermtest.NewTerminal("ws://127.0.0.1:1/", fast) // nothing listens
	errc := make(chan error, 2)
	go func() { _, err := term.Pass(context.Background(), "u", "0"); errc <- err }()
	go func() { errc <- term.WaitRegistered(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, term.Close())
	assert.ErrorIs(t, <-errc, wstermtest.ErrClosed)
	assert.ErrorIs(t, <-errc, wstermtest.ErrClosed)
}

func TestReconnectsWhenAcksStop(t *testing.T) {
	// A platform that acks the 205 and then falls silent: the terminal
	// gives up after 3 heartbeat periods without an ack and dials again.
	var conns atomic.Int32
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		conns.Add(1)
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"command":"response","content":{"code":"200","interval":"20","data":""}}`))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", fast, wstermtest.WithHeartbeat(20*time.Millisecond))
	defer term.Close()
	require.Eventually(t, func() bool { return conns.Load() >= 2 }, 5*time.Second, 5*time.Millisecond)
	assert.GreaterOrEqual(t, term.Stats().Registrations, 1)
}
