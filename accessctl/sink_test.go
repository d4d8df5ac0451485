package accessctl_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(id string) accessctl.Event {
	return accessctl.Event{ID: id, Kind: accessctl.KindPass, Device: accessctl.DeviceRef{ID: "d1"}}
}

// recorder collects the ids it accepted, failing the first fail calls.
type recorder struct {
	mu   sync.Mutex
	ids  []string
	fail int
	err  error
}

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return r.err
	}
	r.ids = append(r.ids, e.ID)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func TestFanOutTriesEverySinkAndJoinsErrors(t *testing.T) {
	a, c := &recorder{}, &recorder{}
	boom := errors.New("boom")
	b := &recorder{fail: 1, err: boom}
	err := accessctl.FanOut(a, b, c).Handle(context.Background(), ev("1"))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"1"}, a.got())
	assert.Empty(t, b.got())
	assert.Equal(t, []string{"1"}, c.got(), "a failing sink must not starve the next")
	require.NoError(t, accessctl.FanOut(a, b, c).Handle(context.Background(), ev("2")))
	assert.Equal(t, []string{"2"}, b.got())
}

func TestFilterKeepsOnlyMatchingKinds(t *testing.T) {
	r := &recorder{}
	s := accessctl.Filter(r, accessctl.KindIs(accessctl.KindPass, accessctl.KindAlarm))
	ctx := context.Background()
	require.NoError(t, s.Handle(ctx, accessctl.Event{ID: "hb", Kind: accessctl.KindHeartbeat}))
	require.NoError(t, s.Handle(ctx, accessctl.Event{ID: "p", Kind: accessctl.KindPass}))
	require.NoError(t, s.Handle(ctx, accessctl.Event{ID: "a", Kind: accessctl.KindAlarm}))
	assert.Equal(t, []string{"p", "a"}, r.got())
}

func fastRetry() accessctl.BufferOption {
	return accessctl.WithRetry(backoff.Policy{Min: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2})
}

func TestBufferDeliversInOrderAndRetriesTransientFailures(t *testing.T) {
	r := &recorder{fail: 3, err: errors.New("platform down")}
	var errs atomic.Int32
	b := accessctl.NewBuffer(r, fastRetry(), accessctl.WithOnError(func(accessctl.Event, error) { errs.Add(1) }))
	ids := []string{"a", "b", "c", "d", "e"}
	for _, id := range ids {
		require.NoError(t, b.Handle(context.Background(), ev(id)))
	}
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, ids, r.got(), "order must survive retries")
	st := b.Stats()
	assert.EqualValues(t, 5, st.Accepted)
	assert.EqualValues(t, 5, st.Delivered)
	assert.EqualValues(t, 3, st.Retried)
	assert.EqualValues(t, 0, st.Dropped)
	assert.EqualValues(t, 3, errs.Load())
}

func TestBufferGivesUpOnPermanentFailures(t *testing.T) {
	r := &recorder{fail: 1, err: accessctl.Permanent(errors.New("malformed"))}
	var failed []string
	b := accessctl.NewBuffer(r, fastRetry(), accessctl.WithOnError(func(e accessctl.Event, err error) {
		if accessctl.IsPermanent(err) {
			failed = append(failed, e.ID)
		}
	}))
	require.NoError(t, b.Handle(context.Background(), ev("bad")))
	require.NoError(t, b.Handle(context.Background(), ev("good")))
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, []string{"good"}, r.got())
	assert.Equal(t, []string{"bad"}, failed)
	assert.EqualValues(t, 1, b.Stats().Failed)
}

// gate is a sink that blocks until released.
type gate struct {
	release chan struct{}
	r       recorder
}

func (g *gate) Handle(ctx context.Context, e accessctl.Event) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.r.Handle(ctx, e)
}

func TestBufferBlockPolicyAppliesBackPressure(t *testing.T) {
	g := &gate{release: make(chan struct{})}
	b := accessctl.NewBuffer(g, accessctl.WithCapacity(2))
	ctx := context.Background()
	require.NoError(t, b.Handle(ctx, ev("1")))
	require.NoError(t, b.Handle(ctx, ev("2")))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := b.Handle(short, ev("3"))
	require.ErrorIs(t, err, context.DeadlineExceeded, "a full Block buffer waits, then gives up with the caller's context")
	assert.EqualValues(t, 0, b.Stats().Dropped)
	close(g.release)
	require.NoError(t, b.Handle(ctx, ev("3")))
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, []string{"1", "2", "3"}, g.r.got())
}

func TestBufferDropNewestRefusesAndCounts(t *testing.T) {
	g := &gate{release: make(chan struct{})}
	var dropped []string
	b := accessctl.NewBuffer(g, accessctl.WithCapacity(1), accessctl.WithOverflow(accessctl.DropNewest),
		accessctl.WithOnDrop(func(e accessctl.Event) { dropped = append(dropped, e.ID) }))
	ctx := context.Background()
	require.NoError(t, b.Handle(ctx, ev("1")))
	require.ErrorIs(t, b.Handle(ctx, ev("2")), accessctl.ErrBufferFull)
	assert.Equal(t, []string{"2"}, dropped)
	assert.EqualValues(t, 1, b.Stats().Dropped)
	close(g.release)
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, []string{"1"}, g.r.got())
}

func TestBufferDropOldestEvictsQueuedNotInFlight(t *testing.T) {
	g := &gate{release: make(chan struct{})}
	var mu sync.Mutex
	var dropped []string
	b := accessctl.NewBuffer(g, accessctl.WithCapacity(2), accessctl.WithOverflow(accessctl.DropOldest),
		accessctl.WithOnDrop(func(e accessctl.Event) { mu.Lock(); dropped = append(dropped, e.ID); mu.Unlock() }))
	ctx := context.Background()
	require.NoError(t, b.Handle(ctx, ev("1")))
	require.Eventually(t, func() bool { return b.Stats().Queued == 1 }, time.Second, time.Millisecond)
	require.NoError(t, b.Handle(ctx, ev("2")))
	require.NoError(t, b.Handle(ctx, ev("3"))) // evicts 2; 1 is in flight
	require.NoError(t, b.Handle(ctx, ev("4"))) // evicts 3
	close(g.release)
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, []string{"1", "4"}, g.r.got())
	mu.Lock()
	assert.Equal(t, []string{"2", "3"}, dropped)
	mu.Unlock()
	assert.EqualValues(t, 2, b.Stats().Dropped)
}

func TestBufferCloseReportsWhatItCouldNotDeliver(t *testing.T) {
	g := &gate{release: make(chan struct{})} // never released: the platform hangs
	var dropped atomic.Int32
	b := accessctl.NewBuffer(g, accessctl.WithOnDrop(func(accessctl.Event) { dropped.Add(1) }))
	for _, id := range []string{"1", "2", "3"} {
		require.NoError(t, b.Handle(context.Background(), ev(id)))
	}
	err := b.Close(ctxTimeout(t, 50*time.Millisecond))
	require.ErrorIs(t, err, accessctl.ErrClosed)
	assert.Contains(t, err.Error(), "3 events undelivered")
	assert.EqualValues(t, 3, dropped.Load())
	require.ErrorIs(t, b.Handle(context.Background(), ev("4")), accessctl.ErrClosed)
}

func TestBufferConcurrentProducersLoseNothing(t *testing.T) {
	r := &recorder{}
	b := accessctl.NewBuffer(r, accessctl.WithCapacity(8))
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				assert.NoError(t, b.Handle(context.Background(), ev(string(rune('a'+p))+time.Duration(i).String())))
			}
		}(p)
	}
	wg.Wait()
	require.NoError(t, b.Close(ctxTimeout(t, 5*time.Second)))
	assert.Len(t, r.got(), 1600)
	assert.EqualValues(t, 1600, b.Stats().Delivered)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
