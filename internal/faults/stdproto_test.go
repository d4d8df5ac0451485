package faults

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

type stdEnv struct {
	edge *stdproto.Edge
	sink *recorder
	addr string
}

func newStdEnv(t *testing.T, opts ...stdproto.Option) *stdEnv {
	t.Helper()
	sink := newRecorder()
	base := []stdproto.Option{
		stdproto.WithSink(sink),
		stdproto.WithFeatureExtractor(stdprototest.Features),
		stdproto.WithSweepInterval(20 * time.Millisecond),
		stdproto.WithIdentity(stdproto.Identity{SN: "edge-faults", IP: "127.0.0.1", MAC: "00-00-00-00-00-01", Keepalive: 100 * time.Millisecond}),
		stdproto.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond),
		stdproto.WithOnError(func(string, error) {}),
		stdproto.WithLogger(slog.New(slog.DiscardHandler)),
	}
	edge := stdproto.NewEdge(append(base, opts...)...)
	srv := httptest.NewServer(edge)
	t.Cleanup(func() {
		srv.Close()
		_ = edge.Close()
	})
	return &stdEnv{edge: edge, sink: sink, addr: srv.Listener.Addr().String()}
}

func (e *stdEnv) terminal(t *testing.T, sn string) (*stdprototest.Terminal, accessctl.Device) {
	t.Helper()
	sim, err := stdprototest.Start(stdprototest.Config{SN: sn, Edge: e.addr, Keepalive: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, e.edge.Provision(stdproto.TerminalConfig{SN: sn, Addr: sim.Addr()}))
	require.NoError(t, sim.WaitConnected(ctxFor(t, 5*time.Second)))
	dev, err := e.edge.Terminal(sn)
	require.NoError(t, err)
	waitStatus(t, dev, true, 5*time.Second)
	return sim, dev
}

// What must hold (stdproto): a terminal that goes silent (paused: no
// keepalive, its server gone, nothing closed on our side) is reported
// offline as one KindOffline event within the configured silence bound
// (default 3 × the keepalive the terminal declared), Status never says
// online after that event, and when it comes back it is reported online
// again as an event.
func TestStdprotoPausedTerminalGoesOfflineAndComesBack(t *testing.T) {
	const bound = 400 * time.Millisecond
	e := newStdEnv(t, stdproto.WithOfflineAfter(bound))
	sim, dev := e.terminal(t, "STD-1")
	e.sink.waitN(t, accessctl.KindOnline, "STD-1", 1, 5*time.Second)

	require.NoError(t, sim.Pause())
	silentSince := time.Now()
	off := e.sink.waitN(t, accessctl.KindOffline, "STD-1", 1, bound+3*time.Second)
	assert.Less(t, time.Since(silentSince), bound+2*time.Second, "offline within the bound")
	require.NotNil(t, off.Status)
	assert.False(t, off.Status.Online)
	stop := watchStatus(dev)
	time.Sleep(200 * time.Millisecond)
	assert.False(t, stop(), "Status said online after the offline event")

	require.NoError(t, sim.Resume())
	on := e.sink.waitN(t, accessctl.KindOnline, "STD-1", 2, 5*time.Second)
	assert.True(t, on.Status.Online)
	waitStatus(t, dev, true, 5*time.Second)
	assert.Len(t, e.sink.of(accessctl.KindOffline, "STD-1"), 1, "one offline event for one silence")
}

// What must hold (stdproto): a command the terminal is executing when it
// drops off the network returns a typed error (accessctl.ErrOffline or
// ErrTimeout) in bounded time, and the command retried after the terminal
// is back succeeds.
func TestStdprotoDropMidCommandThenRetry(t *testing.T) {
	e := newStdEnv(t, stdproto.WithOfflineAfter(time.Second))
	sim, dev := e.terminal(t, "STD-DROP")
	sim.SetDelay(30 * time.Second)

	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- dev.OpenDoor(context.Background(), accessctl.OpenRequest{Operator: "faults"}) }()
	time.Sleep(100 * time.Millisecond) // the request is in the terminal's handler
	require.NoError(t, sim.Pause())
	select {
	case err := <-errc:
		require.Error(t, err)
		assert.True(t, errors.Is(err, accessctl.ErrOffline) || errors.Is(err, accessctl.ErrTimeout), "typed error, got %v", err)
		assert.Less(t, time.Since(start), 10*time.Second, "bounded")
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not return after the drop")
	}
	assert.Zero(t, sim.DoorOpens(), "the dropped command did not open the door")

	sim.SetDelay(0)
	require.NoError(t, sim.Resume())
	require.NoError(t, sim.WaitConnected(ctxFor(t, 5*time.Second)))
	waitStatus(t, dev, true, 5*time.Second)
	require.NoError(t, dev.OpenDoor(ctxFor(t, 5*time.Second), accessctl.OpenRequest{Operator: "faults"}))
	assert.Equal(t, 1, sim.DoorOpens(), "the retry opened the door")
}
