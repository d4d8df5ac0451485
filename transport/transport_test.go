package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/internal/testutil"
)

// Every wait below is bounded (testutil.Bound); the watchdog turns a hang
// that slips through into a failure with every goroutine's stack.
func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 3*time.Minute)) }

func wsURL(ts *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// inbox collects the messages a connection receives.
type inbox struct {
	ch     chan string
	closed chan error
}

func newInbox() *inbox { return &inbox{ch: make(chan string, 64), closed: make(chan error, 1)} }

// HandleMessage and HandleClose give up after testutil.Bound rather than
// block a reader goroutine forever (a Close waiting for it would hang): a
// message nobody takes makes the test fail at next, not hang.
func (b *inbox) HandleMessage(_ *Conn, msg []byte) { offer(b.ch, string(msg)) }
func (b *inbox) HandleClose(_ *Conn, err error)    { offer(b.closed, err) }

func offer[T any](ch chan<- T, v T) {
	t := time.NewTimer(testutil.Bound)
	defer t.Stop()
	select {
	case ch <- v:
	case <-t.C:
	}
}

func (b *inbox) next(t *testing.T) string {
	t.Helper()
	return testutil.Recv(t, b.ch, "message")
}

func (b *inbox) closeErr(t *testing.T) error {
	t.Helper()
	return testutil.Recv(t, b.closed, "connection close")
}

// closed waits until c has stopped.
func closed(t *testing.T, c *Conn) {
	t.Helper()
	testutil.Done(t, c.Done(), "connection stop")
}

// inboxServer is a server whose every connection delivers to one inbox.
func inboxServer(t *testing.T, opts ...Option) (*Server, *httptest.Server, *inbox) {
	t.Helper()
	in := newInbox()
	srv := NewServer(func(c *Conn, r *http.Request) Handler { return in }, opts...)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	return srv, ts, in
}

func echoServer(t *testing.T, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		return HandlerFunc(func(c *Conn, msg []byte) { _ = c.Send(msg) })
	}, opts...)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { require.NoError(t, srv.Close()); ts.Close() })
	return srv, ts
}

func TestEchoAndStats(t *testing.T) {
	srv, ts := echoServer(t)
	in := newInbox()
	c, err := Dial(context.Background(), wsURL(ts, "/any/path"), in)
	require.NoError(t, err)
	require.NoError(t, c.Send([]byte(`{"code":"206"}`)))
	assert.Equal(t, `{"code":"206"}`, in.next(t))
	require.NoError(t, c.Close())
	closed(t, c)
	assert.ErrorIs(t, in.closeErr(t), ErrClosed)

	require.Eventually(t, func() bool { return srv.Len() == 0 }, 5*time.Second, 10*time.Millisecond)
	st := srv.Stats()
	assert.Equal(t, uint64(1), st.Accepted)
	assert.Equal(t, uint64(1), st.MessagesIn)
	assert.Equal(t, uint64(1), st.MessagesOut)
	assert.Equal(t, uint64(len(`{"code":"206"}`)), st.BytesIn)
	assert.Equal(t, int64(0), st.Active)
}

func TestPathRestriction(t *testing.T) {
	srv, ts := echoServer(t, WithPath("/ws"))
	_, err := Dial(context.Background(), wsURL(ts, "/other"), newInbox())
	require.Error(t, err)
	assert.Equal(t, uint64(1), srv.Stats().Rejected)

	c, err := Dial(context.Background(), wsURL(ts, "/ws"), newInbox())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	closed(t, c)
}

func TestPriorityLaneGoesFirst(t *testing.T) {
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		// Queued before the writer starts, so the order is deterministic.
		require.NoError(t, c.Send([]byte("normal-1")))
		require.NoError(t, c.Send([]byte("normal-2")))
		require.NoError(t, c.SendPriority(context.Background(), []byte("ack")))
		return HandlerFunc(func(*Conn, []byte) {})
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	in := newInbox()
	c, err := Dial(context.Background(), wsURL(ts, "/"), in)
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	assert.Equal(t, "ack", in.next(t))
	assert.Equal(t, "normal-1", in.next(t))
	assert.Equal(t, "normal-2", in.next(t))
}

func TestQueueFullFailsFast(t *testing.T) {
	errs := make(chan error, 3)
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		errs <- c.Send([]byte("1"))
		errs <- c.Send([]byte("2"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		require.NoError(t, c.SendPriority(ctx, []byte("p")))
		errs <- c.SendPriority(ctx, []byte("p2"))
		return HandlerFunc(func(*Conn, []byte) {})
	}, WithQueueSize(1, 1))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	c, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	assert.NoError(t, testutil.Recv(t, errs, "send 1"))
	assert.ErrorIs(t, testutil.Recv(t, errs, "send 2"), ErrQueueFull)
	assert.ErrorIs(t, testutil.Recv(t, errs, "priority send 2"), ErrQueueFull)
	assert.Equal(t, uint64(2), srv.Stats().QueueFull)
}

func TestIdleTimeoutClosesSilentPeer(t *testing.T) {
	srv, ts, in := inboxServer(t, WithIdleTimeout(150*time.Millisecond))
	c, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	assert.ErrorIs(t, in.closeErr(t), ErrTimeout)
	assert.Equal(t, uint64(1), srv.Stats().IdleTimeouts)
}

func TestPingsKeepAnIdlePeerAlive(t *testing.T) {
	_, ts, in := inboxServer(t, WithIdleTimeout(600*time.Millisecond))
	// The client pings; the server's deadline is extended by each ping.
	c, err := Dial(context.Background(), wsURL(ts, "/"), newInbox(), WithPingInterval(30*time.Millisecond))
	require.NoError(t, err)
	select {
	case err := <-in.closed:
		t.Fatalf("closed although pinged: %v", err)
	case <-time.After(1200 * time.Millisecond):
	}
	// Counted, not timed: a loaded machine may have sent fewer by now.
	require.Eventually(t, func() bool { return c.ctr.pings.Load() > 5 }, testutil.Bound, 5*time.Millisecond)
	require.NoError(t, c.Close())
	closed(t, c)
}

func TestUnansweredPingsAreNotFatal(t *testing.T) {
	// A raw gorilla peer that never reads never answers our pings; the
	// connection must stay up until the idle timeout says otherwise.
	srv, ts, in := inboxServer(t, WithPingInterval(20*time.Millisecond))
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(ts, "/"), nil)
	require.NoError(t, err)
	defer ws.Close()
	// Wait for three pings by count, not by time (a loaded machine sends
	// fewer in a given time), then check none of them closed the peer.
	require.Eventually(t, func() bool { return srv.Stats().PingsSent >= 3 }, testutil.Bound, 5*time.Millisecond)
	select {
	case err := <-in.closed:
		t.Fatalf("closed after %d unanswered pings: %v", srv.Stats().PingsSent, err)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestReadLimit(t *testing.T) {
	srv, ts, in := inboxServer(t, WithReadLimit(1024))
	c, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	require.NoError(t, c.Send([]byte(strings.Repeat("x", 2048))))
	assert.ErrorIs(t, in.closeErr(t), ErrMessageTooLarge)
	assert.Equal(t, uint64(1), srv.Stats().OversizedFrames)
}

// A server starts a connection with a small limit and grows it once the
// peer has said who it is ("hello" here); the limit never exceeds the
// configured one.
func TestSetReadLimitPerConnection(t *testing.T) {
	in := newInbox()
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		c.SetReadLimit(64)
		return HandlerFunc(func(c *Conn, msg []byte) {
			if string(msg) == "hello" {
				c.SetReadLimit(1 << 30) // clamped to WithReadLimit
			}
			in.HandleMessage(c, msg)
		})
	}, WithReadLimit(1024))
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })

	anon, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = anon.Close(); <-anon.Done() }()
	require.NoError(t, anon.Send([]byte(strings.Repeat("x", 65))))
	require.Eventually(t, func() bool { return srv.Stats().OversizedFrames == 1 }, 5*time.Second, time.Millisecond)

	known, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = known.Close(); <-known.Done() }()
	require.NoError(t, known.Send([]byte("hello")))
	assert.Equal(t, "hello", in.next(t))
	require.NoError(t, known.Send([]byte(strings.Repeat("y", 1000))))
	assert.Len(t, in.next(t), 1000, "grown after hello")
	require.NoError(t, known.Send([]byte(strings.Repeat("z", 1025))))
	require.Eventually(t, func() bool { return srv.Stats().OversizedFrames == 2 }, 5*time.Second, time.Millisecond, "but not past WithReadLimit")
}

func TestDefaultReadLimitHoldsAFaceImage(t *testing.T) {
	assert.GreaterOrEqual(t, DefaultReadLimit, 16<<20)
	_, ts := echoServer(t)
	in := newInbox()
	c, err := Dial(context.Background(), wsURL(ts, "/"), in)
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	big := strings.Repeat("A", 3<<20) // a 2.25 MB JPEG in Base64
	require.NoError(t, c.Send([]byte(big)))
	assert.Len(t, in.next(t), len(big))
}

func TestServerCloseClosesEverything(t *testing.T) {
	srv := NewServer(func(c *Conn, r *http.Request) Handler { return HandlerFunc(func(*Conn, []byte) {}) })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var ins []*inbox
	for range 5 {
		in := newInbox()
		_, err := Dial(context.Background(), wsURL(ts, "/"), in)
		require.NoError(t, err)
		ins = append(ins, in)
	}
	require.Eventually(t, func() bool { return srv.Len() == 5 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, srv.Close())
	assert.Equal(t, 0, srv.Len())
	for _, in := range ins {
		assert.ErrorIs(t, in.closeErr(t), ErrOffline) // the peer went away
	}
	_, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	assert.Error(t, err, "a closed server refuses upgrades")
}

func TestCloseFlushesQueuedMessages(t *testing.T) {
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		require.NoError(t, c.SendPriority(context.Background(), []byte("rejected")))
		_ = c.Close()
		return HandlerFunc(func(*Conn, []byte) {})
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	in := newInbox()
	_, err := Dial(context.Background(), wsURL(ts, "/"), in)
	require.NoError(t, err)
	assert.Equal(t, "rejected", in.next(t))
	assert.ErrorIs(t, in.closeErr(t), ErrOffline)
}

func TestBackoff(t *testing.T) {
	b := DefaultBackoff
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute} {
		for range 50 {
			d := b.Delay(attempt)
			assert.GreaterOrEqual(t, d, time.Duration(float64(want)*0.8), "attempt %d", attempt)
			assert.LessOrEqual(t, d, time.Duration(float64(want)*1.2), "attempt %d", attempt)
		}
	}
	assert.Equal(t, time.Minute, Backoff{Min: time.Second, Max: time.Minute}.Delay(1000), "no overflow")
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[b.Delay(0)] = true
	}
	assert.Greater(t, len(seen), 1, "jittered")
}

// A client whose server drops it dials again and registers again, and
// while a session's messages are handled Conn() is that session: a handler
// that answers through Conn() (as drivers do) never finds nil there. That
// used to fail now and then: Conn() was set only after the connection's
// reader had started, so the echo of the new session's first message could
// be handled first.
func TestClientReconnects(t *testing.T) {
	var mu sync.Mutex
	var serverConns []*Conn
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		mu.Lock()
		serverConns = append(serverConns, c)
		mu.Unlock()
		return HandlerFunc(func(c *Conn, msg []byte) { _ = c.Send(msg) })
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	var states stateLog
	type received struct {
		msg     string
		current bool // cl.Conn() was the connection that received it
	}
	in := make(chan received, 64)
	var client atomic.Pointer[Client]
	cl := NewClient(wsURL(ts, "/"), func(c *Conn) Handler {
		_ = c.Send([]byte("hello")) // like a register report
		return HandlerFunc(func(c *Conn, msg []byte) {
			cur := true
			if cl := client.Load(); cl != nil { // nil: NewClient has not returned yet
				cur = cl.Conn() == c
			}
			offer(in, received{string(msg), cur})
		})
	}, WithBackoff(Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond}),
		WithOnStatus(states.add))
	client.Store(cl)
	first := testutil.Recv(t, in, "first session's echo")
	assert.Equal(t, received{"hello", true}, first)
	mu.Lock()
	serverConns[0].CloseWithError(ErrReplaced) // server drops the terminal
	mu.Unlock()
	second := testutil.Recv(t, in, "second session's echo")
	assert.Equal(t, received{"hello", true}, second, "reconnected, registered again, and Conn() is the new session")
	require.NotNil(t, cl.Conn())
	require.NoError(t, cl.Close())
	assert.Nil(t, cl.Conn())
	st := cl.Stats()
	assert.GreaterOrEqual(t, st.Dials, uint64(2))
	got := states.all()
	require.NotEmpty(t, got)
	assert.Equal(t, StateConnecting, got[0])
	assert.Equal(t, StateClosed, got[len(got)-1])
	assert.Contains(t, got, StateDisconnected)
}

// stateLog records status callbacks without ever blocking the caller (a
// full channel there would stall the client and hang its Close).
type stateLog struct {
	mu sync.Mutex
	s  []State
}

func (l *stateLog) add(_ *Conn, s State, _ error) {
	l.mu.Lock()
	l.s = append(l.s, s)
	l.mu.Unlock()
}

func (l *stateLog) all() []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]State(nil), l.s...)
}

func TestClientBacksOffWhileServerIsDown(t *testing.T) {
	cl := NewClient("ws://127.0.0.1:1/", func(c *Conn) Handler { return newInbox() },
		WithBackoff(Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}))
	require.Eventually(t, func() bool { return cl.Stats().DialFailures >= 3 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, cl.Close())
	assert.Equal(t, cl.Stats().Dials, cl.Stats().DialFailures)
}

func TestPeerCloseIsOffline(t *testing.T) {
	_, ts, in := inboxServer(t)
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(ts, "/"), nil)
	require.NoError(t, err)
	require.NoError(t, ws.Close())
	err = in.closeErr(t)
	assert.ErrorIs(t, err, ErrOffline)
	assert.False(t, errors.Is(err, ErrTimeout))
}

func TestSendKeepsEachSendersOrder(t *testing.T) {
	// Direct writes and queued writes mix; one sender's messages must still
	// arrive in the order it sent them.
	srvConn := make(chan *Conn, 1)
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		srvConn <- c
		return HandlerFunc(func(*Conn, []byte) {})
	}, WithQueueSize(1024, 8))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	in := &inbox{ch: make(chan string, 4096), closed: make(chan error, 1)}
	c, err := Dial(context.Background(), wsURL(ts, "/"), in)
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	sc := testutil.Recv(t, srvConn, "server connection")
	const senders, each = 4, 200
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for sc.Send([]byte(fmt.Sprintf("%d:%d", s, i))) != nil {
					time.Sleep(time.Millisecond) // queue full: retry
				}
			}
		}()
	}
	last := map[int]int{0: -1, 1: -1, 2: -1, 3: -1}
	for range senders * each {
		var s, i int
		_, err := fmt.Sscanf(in.next(t), "%d:%d", &s, &i)
		require.NoError(t, err)
		require.Equal(t, last[s]+1, i, "sender %d out of order", s)
		last[s] = i
	}
	testutil.Wait(t, &wg, "senders")
}

// TestMessagesOfChangingSizes: messages are read into buffers sized by the
// previous one; growing, shrinking and same-size runs must all arrive
// intact, and what a handler keeps is not mostly slack.
func TestMessagesOfChangingSizes(t *testing.T) {
	got := make(chan []byte, 64)
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		return HandlerFunc(func(_ *Conn, msg []byte) { got <- msg })
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	c, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	defer func() { _ = c.Close(); closed(t, c) }()
	sizes := []int{0, 1, 511, 512, 513, 5000, 5000, 5000, 40000, 100, 40000, 40001, 39999, 3, 70000, 70000, 2}
	for i, n := range sizes {
		msg := make([]byte, n)
		for j := range msg {
			msg[j] = byte('a' + (i+j)%26)
		}
		require.NoError(t, c.Send(msg))
		select {
		case m := <-got:
			require.Equal(t, string(msg), string(m), "message %d (%d bytes)", i, n)
			assert.LessOrEqual(t, cap(m)-len(m), len(m)/4+minReadAlloc, "message %d keeps little slack", i)
		case <-time.After(testutil.Bound):
			t.Fatalf("message %d not received", i)
		}
	}
}
