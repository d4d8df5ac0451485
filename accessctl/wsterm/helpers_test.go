package wsterm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/transport"
)

// fastBackoff keeps reconnect tests quick.
var fastBackoff = transport.WithBackoff(transport.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: 0.2})

// jpeg is the smallest byte string that sniffs as a JPEG.
var jpeg = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}

const jpegB64 = "/9j/4AAQSkZJRgA="

// recorder is an EventSink that keeps what it got and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
	fail   int // fail this many Handle calls of pass/enrolled/report events
	block  chan struct{}
	got    chan accessctl.Event
}

func newRecorder() *recorder { return &recorder{got: make(chan accessctl.Event, 1024)} }

func (r *recorder) Handle(ctx context.Context, e accessctl.Event) error {
	r.mu.Lock()
	device := e.Kind != accessctl.KindOnline && e.Kind != accessctl.KindOffline && e.Kind != accessctl.KindHeartbeat
	if device && r.fail > 0 {
		r.fail--
		r.mu.Unlock()
		return context.DeadlineExceeded
	}
	block := r.block
	r.mu.Unlock()
	if device && block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.got <- e:
	default:
	}
	return nil
}

func (r *recorder) of(kind accessctl.EventKind) []accessctl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []accessctl.Event
	for _, e := range r.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) wait(t *testing.T, kind accessctl.EventKind) accessctl.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.got:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within 5s", kind)
		}
	}
}

type env struct {
	srv  *wsterm.Server
	ts   *httptest.Server
	sink *recorder
	url  string
}

func newEnv(t *testing.T, opts ...wsterm.Option) *env {
	t.Helper()
	sink := newRecorder()
	srv := wsterm.NewServer(append([]wsterm.Option{wsterm.WithSink(sink)}, opts...)...)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		ts.Close()
	})
	return &env{srv: srv, ts: ts, sink: sink, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/"}
}

func (e *env) terminal(t *testing.T, sn string, opts ...wstermtest.Option) *wstermtest.Terminal {
	t.Helper()
	opts = append([]wstermtest.Option{wstermtest.WithSN(sn), wstermtest.WithTransport(fastBackoff)}, opts...)
	term := wstermtest.NewTerminal(e.url, opts...)
	t.Cleanup(func() { _ = term.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, term.WaitRegistered(ctx))
	e.waitOnline(t, sn, true)
	return term
}

func (e *env) device(t *testing.T, sn string) *wsterm.Device {
	t.Helper()
	d, err := e.srv.Device(sn)
	require.NoError(t, err)
	return d
}

func (e *env) waitOnline(t *testing.T, sn string, want bool) {
	t.Helper()
	d := e.device(t, sn)
	require.Eventually(t, func() bool {
		st, err := d.Status(context.Background())
		return err == nil && st.Online == want
	}, 5*time.Second, 5*time.Millisecond, "online=%t", want)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newHTTPServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return httptest.NewServer(h)
}
