package stdproto_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 10*time.Minute)) }

// recorder is a sink that keeps every event and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
	ch     chan accessctl.Event
	fail   error
}

func newRecorder() *recorder { return &recorder{ch: make(chan accessctl.Event, 1024)} }

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, e)
	select {
	case r.ch <- e:
	default:
		panic("recorder channel full: a test forgot to drain it")
	}
	return nil
}

func (r *recorder) setFail(err error) { r.mu.Lock(); r.fail = err; r.mu.Unlock() }

// next waits for the next event of kind.
func (r *recorder) next(t *testing.T, kind accessctl.EventKind) accessctl.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within 5 s", kind)
		}
	}
}

// rig is an edge served on 127.0.0.1 with fast timers, and its sink.
type rig struct {
	edge *stdproto.Edge
	srv  *httptest.Server
	sink *recorder
}

func fastEdgeOptions(sink accessctl.EventSink) []stdproto.Option {
	return []stdproto.Option{
		stdproto.WithSink(sink),
		stdproto.WithFeatureExtractor(stdprototest.Features),
		stdproto.WithOfflineAfter(400 * time.Millisecond),
		stdproto.WithSweepInterval(20 * time.Millisecond),
		stdproto.WithIdentity(stdproto.Identity{SN: "edge-test", IP: "127.0.0.1", MAC: "00-00-00-00-00-01", Keepalive: 100 * time.Millisecond}),
		stdproto.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond),
		stdproto.WithOnError(func(string, error) {}),
		stdproto.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

func newRig(t *testing.T, opts ...stdproto.Option) *rig {
	t.Helper()
	sink := newRecorder()
	edge := stdproto.NewEdge(append(fastEdgeOptions(sink), opts...)...)
	srv := httptest.NewServer(edge)
	t.Cleanup(func() {
		srv.Close()
		_ = edge.Close()
	})
	return &rig{edge: edge, srv: srv, sink: sink}
}

func (r *rig) addr() string { return r.srv.Listener.Addr().String() }

// terminal starts a simulated terminal, provisions it and waits until both
// directions of the link are up.
func (r *rig) terminal(t *testing.T, sn string) (*stdprototest.Terminal, *stdproto.Terminal) {
	t.Helper()
	sim, err := stdprototest.Start(stdprototest.Config{SN: sn, Edge: r.addr(), Keepalive: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, r.edge.Provision(stdproto.TerminalConfig{SN: sn, Addr: sim.Addr()}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, sim.WaitConnected(ctx))
	dev, err := r.edge.Terminal(sn)
	require.NoError(t, err)
	waitOnline(t, dev, true)
	return sim, dev
}

func waitOnline(t *testing.T, dev accessctl.Device, want bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := dev.Status(context.Background())
		return err == nil && st.Online == want
	}, 5*time.Second, 10*time.Millisecond, "device online=%v", want)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func itoa(i int) string { return strconv.Itoa(i) }

// unmarshalLenient decodes data as clients do, ignoring the outcome's type.
func unmarshalLenient(data []byte, v any) error { return json.Unmarshal(data, v) }

func stdprotoMemory() *stdprototest.Memory { return stdprototest.NewMemory() }

// The edge is a Driver and a DeviceLister: the admin API and hosts list and
// open its terminals through the core interfaces only.
func TestEdgeListsItsTerminals(t *testing.T) {
	r := newRig(t)
	r.terminal(t, "T-LIST-2")
	r.terminal(t, "T-LIST-1")
	var (
		drv    accessctl.Driver       = r.edge
		lister accessctl.DeviceLister = r.edge
	)
	sts, err := lister.Devices(ctxT(t))
	require.NoError(t, err)
	require.Len(t, sts, 2)
	assert.Equal(t, "T-LIST-1", sts[0].Device.ID)
	assert.Equal(t, "T-LIST-2", sts[1].Device.ID)
	assert.True(t, sts[0].Online)
	dev, err := drv.Open(ctxT(t), accessctl.DeviceConfig{ID: "T-LIST-2"})
	require.NoError(t, err)
	assert.Equal(t, "T-LIST-2", dev.ID())
	_, err = drv.Open(ctxT(t), accessctl.DeviceConfig{ID: "T-NONE"})
	assert.ErrorIs(t, err, accessctl.ErrNotFound)
}
