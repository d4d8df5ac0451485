package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/transport"
)

const jpegB64 = "/9j/4AAQSkZJRgA="

var fastBackoff = transport.WithBackoff(transport.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond, Jitter: 0.3})

type wsEnv struct {
	srv  *wsterm.Server
	http *httptest.Server
	sink *recorder
	url  string
}

func newWsEnv(t *testing.T, opts ...wsterm.Option) *wsEnv {
	t.Helper()
	sink := newRecorder()
	e := newWsEnvWithSink(t, sink, opts...)
	e.sink = sink
	return e
}

// newWsEnvWithSink serves a wsterm.Server feeding sink on 127.0.0.1.
func newWsEnvWithSink(t *testing.T, sink accessctl.EventSink, opts ...wsterm.Option) *wsEnv {
	t.Helper()
	srv := wsterm.NewServer(append([]wsterm.Option{wsterm.WithSink(sink)}, opts...)...)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		_ = srv.Close()
	})
	return &wsEnv{srv: srv, http: hs, url: "ws://" + hs.Listener.Addr().String() + "/"}
}

func (e *wsEnv) device(t *testing.T, sn string) *wsterm.Device {
	t.Helper()
	d, err := e.srv.Device(sn)
	require.NoError(t, err)
	return d
}

// rawPeer is a terminal we drive frame by frame: it registers, then does
// only what the test says — in particular it can stop reading and writing
// without closing its socket.
type rawPeer struct {
	c *websocket.Conn
}

func dialRaw(t *testing.T, url, sn string) *rawPeer {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	p := &rawPeer{c: c}
	p.send(t, map[string]any{"code": "205", "data": map[string]string{"ip": "127.0.0.1", "mac": "00-00-00-00-00-09", "sn": sn, "type": "raw"}})
	require.Equal(t, "200", p.readCode(t), "registered")
	return p
}

func (p *rawPeer) send(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, p.c.WriteMessage(websocket.TextMessage, b))
}

// readCode reads frames until an ack (command "response") and
// returns its code.
func (p *rawPeer) readCode(t *testing.T) string {
	t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := p.c.ReadMessage()
		require.NoError(t, err)
		var f struct {
			Command string `json:"command"`
			Content struct {
				Code any `json:"code"`
			} `json:"content"`
		}
		require.NoError(t, json.Unmarshal(msg, &f), "%s", msg)
		if f.Command == "response" {
			return fmt.Sprint(f.Content.Code)
		}
	}
}

// What must hold (wsterm): a registered terminal that goes silent without
// closing its socket (it stops sending and stops reading) is reported
// offline, as one KindOffline event, within the configured silence bound
// (default 3 × the heartbeat interval) — not before — and Status never says
// online after that event; when it connects again it is reported online
// again, as an event, and Status says so.
func TestWstermSilentPeerGoesOfflineAndComesBack(t *testing.T) {
	const bound = 400 * time.Millisecond
	e := newWsEnv(t, wsterm.WithOfflineAfter(bound))
	dialAt := time.Now()
	_ = dialRaw(t, e.url, "RAW-1")
	e.sink.waitN(t, accessctl.KindOnline, "RAW-1", 1, 5*time.Second)
	dev := e.device(t, "RAW-1")
	waitStatus(t, dev, true, 2*time.Second)

	// The silence is measured on the server's clock, from the last frame it
	// saw to the offline event: a clock started here, after the online
	// event and the status poll, started late on a loaded machine.
	off := e.sink.waitN(t, accessctl.KindOffline, "RAW-1", 1, bound+3*time.Second)
	require.NotNil(t, off.Status)
	assert.False(t, off.Status.Online)
	assert.False(t, off.Status.LastSeen.Before(dialAt), "the silence starts at the peer's last frame, not earlier")
	took := off.OccurredAt.Sub(off.Status.LastSeen)
	assert.GreaterOrEqual(t, took, bound-50*time.Millisecond, "not offline before the bound")
	assert.Less(t, took, bound+2*time.Second, "offline within the bound")

	stop := watchStatus(dev)
	time.Sleep(200 * time.Millisecond)
	assert.False(t, stop(), "Status said online after the offline event")

	_ = dialRaw(t, e.url, "RAW-1")
	on := e.sink.waitN(t, accessctl.KindOnline, "RAW-1", 2, 5*time.Second)
	assert.True(t, on.Status.Online)
	waitStatus(t, dev, true, 2*time.Second)
	assert.Len(t, e.sink.of(accessctl.KindOffline, "RAW-1"), 1, "one offline event for one silence")
}

// What must hold (wsterm): a command in flight when the terminal's
// connection drops returns accessctl.ErrOffline (not a hang, not a
// timeout much later) within a bounded time, and the same command retried
// after the terminal reconnected succeeds.
func TestWstermDropMidCommandThenRetry(t *testing.T) {
	e := newWsEnv(t, wsterm.WithTimeouts(10*time.Second))
	term := wstermtest.NewTerminal(e.url, wstermtest.WithSN("T-DROP"), wstermtest.WithTransport(fastBackoff))
	defer term.Close()
	require.NoError(t, term.WaitRegistered(ctxFor(t, 5*time.Second)))
	dev := e.device(t, "T-DROP")
	waitStatus(t, dev, true, 2*time.Second)

	term.Misbehave(wsterm.CmdAddUser, wstermtest.Behavior{Silent: true})
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- dev.AddUser(context.Background(), wsterm.User{UserID: "u1", Name: "A", Img: jpegB64}) }()
	require.Eventually(t, func() bool { return term.Stats().Commands >= 1 }, 5*time.Second, 5*time.Millisecond, "command reached the terminal")
	term.Drop()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, accessctl.ErrOffline)
		assert.Less(t, time.Since(start), 3*time.Second, "bounded, well before the 10 s command timeout")
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not return after the drop")
	}

	term.Misbehave(wsterm.CmdAddUser, wstermtest.Behavior{})
	require.Eventually(t, func() bool { return term.Registered() }, 5*time.Second, 10*time.Millisecond, "re-registered")
	waitStatus(t, dev, true, 5*time.Second)
	require.NoError(t, dev.AddUser(ctxFor(t, 5*time.Second), wsterm.User{UserID: "u1", Name: "A", Img: jpegB64}))
	u, ok := term.User("u1")
	require.True(t, ok, "the retry put the user on the terminal")
	assert.Equal(t, "A", u.Name)
}

// What must hold (wsterm): a terminal whose clock is decades off — in its
// heartbeats and in its events — is not rejected: its reports are
// acknowledged, it stays online, and its events are stamped by our receipt
// time (TimeSource receipt), the device's clock only reported as skew.
func TestWstermClockJumpIsNotRejected(t *testing.T) {
	e := newWsEnv(t, wsterm.WithOfflineAfter(5*time.Second))
	p := dialRaw(t, e.url, "CLK-1")
	for _, clock := range []string{"1999-01-01 00:00:00", "2099-12-31 23:59:59"} {
		before := time.Now()
		p.send(t, map[string]any{"code": "206", "data": map[string]string{"time": clock}})
		require.Equal(t, "200", p.readCode(t), "heartbeat at %s acknowledged", clock)
		id := "ev-" + strings.ReplaceAll(clock[:4], " ", "")
		p.send(t, map[string]any{"code": "207", "data": map[string]any{"eventid": id, "type": "1",
			"data": map[string]string{"userId": "u1", "door": "0", "time": clock, "recordTime": clock}}})
		require.Equal(t, "200", p.readCode(t), "pass with device clock %s acknowledged", clock)
		after := time.Now()

		var pass accessctl.Event
		require.Eventually(t, func() bool {
			for _, ev := range e.sink.of(accessctl.KindPass, "CLK-1") {
				if strings.Contains(ev.ID, id) {
					pass = ev
					return true
				}
			}
			return false
		}, 5*time.Second, 5*time.Millisecond)
		assert.Equal(t, accessctl.TimeReceipt, pass.TimeSource)
		assert.False(t, pass.ReceivedAt.Before(before.Add(-time.Second)) || pass.ReceivedAt.After(after.Add(time.Second)),
			"stamped by receipt time, not %s", clock)
		assert.False(t, pass.OccurredAt.Before(before.Add(-time.Second)) || pass.OccurredAt.After(after.Add(time.Second)))
	}
	hbs := e.sink.of(accessctl.KindHeartbeat, "CLK-1")
	require.Len(t, hbs, 2)
	skew, err := time.ParseDuration(hbs[0].Status.Info.Extra["clockSkew"])
	require.NoError(t, err)
	assert.Greater(t, skew.Abs(), 20*365*24*time.Hour, "the skew is reported, not acted on")
	waitStatus(t, e.device(t, "CLK-1"), true, time.Second)
	assert.Empty(t, e.sink.of(accessctl.KindOffline, "CLK-1"))
}

// What must hold (wsterm): 1,000 terminals that all lose their connection
// at once reconnect against one server; every one ends registered and
// online, the server counts each exactly once, within a bounded time; and
// closing the terminals and the server leaves no goroutine behind
// (goleak in TestMain).
func TestWstermReconnectStormOf1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	const n = 1000
	start := time.Now()
	e := newWsEnv(t, wsterm.WithOfflineAfter(time.Minute))
	terms := make([]*wstermtest.Terminal, n)
	for i := range terms {
		terms[i] = wstermtest.NewTerminal(e.url, wstermtest.WithSN(fmt.Sprintf("S%04d", i)), wstermtest.WithHeartbeat(time.Minute),
			wstermtest.WithTransport(transport.WithBackoff(transport.Backoff{Min: 50 * time.Millisecond, Max: time.Second, Jitter: 0.5})))
	}
	defer func() {
		var wg sync.WaitGroup
		for _, term := range terms {
			wg.Add(1)
			go func() { defer wg.Done(); _ = term.Close() }()
		}
		wg.Wait()
	}()
	allOnline := func(phase string, regs int) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, term := range terms {
				if !term.Registered() || term.Stats().Registrations < regs {
					return false
				}
			}
			return true
		}, 40*time.Second, 50*time.Millisecond, "%s: not every terminal registered", phase)
		for _, term := range terms {
			waitStatus(t, e.device(t, term.SN()), true, 5*time.Second)
		}
	}
	allOnline("start", 1)
	t.Logf("1,000 registered in %v", time.Since(start))

	storm := time.Now()
	var wg sync.WaitGroup
	for _, term := range terms {
		wg.Add(1)
		go func() { defer wg.Done(); term.Drop() }()
	}
	wg.Wait()
	allOnline("after the storm", 2)
	t.Logf("1,000 reconnected in %v", time.Since(storm))
	assert.Len(t, e.srv.Terminals(), n, "each terminal known once")
	assert.Less(t, time.Since(start), 60*time.Second)
}
