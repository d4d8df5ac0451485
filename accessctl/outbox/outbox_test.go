package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport/backoff"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(testutil.Watchdog(m, 10*time.Minute)) // a hang fails with every stack
}

// fast retries keep the tests quick.
var fast = outbox.WithRetry(backoff.Policy{Min: time.Millisecond, Max: 20 * time.Millisecond, Factor: 2, Jitter: 0.2})

// recorder is a sink that keeps what it accepted, per device in order, and
// fails on demand.
type recorder struct {
	mu    sync.Mutex
	got   map[string][]string // device → event ids, in delivery order
	seen  map[string]int      // id → deliveries
	fail  func(e accessctl.Event) error
	calls atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{got: map[string][]string{}, seen: map[string]int{}}
}

func (r *recorder) Handle(ctx context.Context, e accessctl.Event) error {
	r.calls.Add(1)
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[e.Device.ID] = append(r.got[e.Device.ID], e.ID)
	r.seen[e.ID]++
	return nil
}

func (r *recorder) setFail(f func(accessctl.Event) error) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) ids(dev string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[dev]...)
}

func pass(dev string, n int) accessctl.Event {
	return accessctl.Event{
		ID: fmt.Sprintf("%s-%d", dev, n), Kind: accessctl.KindPass,
		Device:     accessctl.DeviceRef{ID: dev},
		OccurredAt: time.Now(), ReceivedAt: time.Now(),
		Pass: &accessctl.PassEvent{Method: accessctl.MethodCard, Credential: "12345678", Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}},
	}
}

func closeNow(t *testing.T, ob *outbox.Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ob.Close(ctx))
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, what)
}

func TestDeliversInOrderPerDevice(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	ob, err := outbox.Open(t.TempDir(), rec, fast)
	require.NoError(t, err)
	ctx := context.Background()

	const devices, each = 5, 200
	var wg sync.WaitGroup
	for d := range devices {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, ob.Handle(ctx, pass(fmt.Sprintf("d%d", d), i)))
			}
		})
	}
	wg.Wait()
	eventually(t, func() bool { return rec.count() == devices*each }, "all delivered")
	for d := range devices {
		ids := rec.ids(fmt.Sprintf("d%d", d))
		require.Len(t, ids, each)
		for i, id := range ids {
			require.Equal(t, fmt.Sprintf("d%d-%d", d, i), id, "device order")
		}
	}
	st := ob.Stats()
	assert.Equal(t, uint64(devices*each), st.Appended)
	assert.Equal(t, uint64(devices*each), st.Delivered)
	assert.Zero(t, st.Queued)
	assert.Less(t, st.Commits, st.Appended, "concurrent appends share commits")
	closeNow(t, ob)
	assert.ErrorIs(t, ob.Handle(ctx, pass("d0", 999)), accessctl.ErrClosed)
}

// A failing device lane must not hold back the others.
func TestDevicesIndependent(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	rec.setFail(func(e accessctl.Event) error {
		if e.Device.ID == "stuck" {
			return errors.New("503")
		}
		return nil
	})
	// No cache: every event is read back from disk, as after a restart.
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithConcurrency(2), outbox.WithCacheBytes(0))
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, ob.Handle(ctx, pass("stuck", i)))
	}
	for i := range 50 {
		require.NoError(t, ob.Handle(ctx, pass("fine", i)))
	}
	eventually(t, func() bool { return len(rec.ids("fine")) == 50 }, "the healthy device is delivered")
	assert.Empty(t, rec.ids("stuck"))
	assert.Greater(t, ob.Stats().Retried, uint64(0))
	rec.setFail(nil)
	eventually(t, func() bool { return len(rec.ids("stuck")) == 10 }, "the stuck device catches up")
	for i, id := range rec.ids("stuck") {
		assert.Equal(t, fmt.Sprintf("stuck-%d", i), id)
	}
	closeNow(t, ob)
}

// Events stored while the sink is down are delivered after a reopen, and an
// ID the outbox assigned is stored with the event.
func TestSurvivesReopen(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	down := newRecorder()
	down.setFail(func(accessctl.Event) error { return errors.New("down") })
	ob, err := outbox.Open(dir, down, fast)
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 20 {
		require.NoError(t, ob.Handle(ctx, pass("d", i)))
	}
	noID := pass("d", 20)
	noID.ID = ""
	require.NoError(t, ob.Handle(ctx, noID))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	require.NoError(t, ob.Close(short), "Close loses nothing, so an undrained close is not an error")
	cancel()
	assert.Equal(t, 21, ob.Stats().Queued)

	up := newRecorder()
	ob, err = outbox.Open(dir, up, fast)
	require.NoError(t, err)
	st := ob.Stats()
	assert.Equal(t, uint64(21), uint64(st.Queued)+st.Delivered, "reloaded from disk (and maybe delivered already)")
	assert.Zero(t, st.Appended, "nothing appended by this process")
	eventually(t, func() bool { return up.count() == 21 }, "delivered after reopen")
	ids := up.ids("d")
	for i := range 20 {
		assert.Equal(t, fmt.Sprintf("d-%d", i), ids[i])
	}
	assert.Regexp(t, `^ob-[A-Z2-7]{26}$`, ids[20], "assigned id")
	closeNow(t, ob)
}

func TestDeadLetterReplayDiscard(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	var bad atomic.Bool
	bad.Store(true)
	rec.setFail(func(e accessctl.Event) error {
		if bad.Load() && e.ID == "d-3" {
			return accessctl.Permanent(errors.New("400 bad event"))
		}
		if e.ID == "d-5" {
			return accessctl.Permanent(errors.New("400 never"))
		}
		return nil
	})
	var deadSeen atomic.Int32
	logs := &testutil.Buffer{}
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithOnDead(func(outbox.DeadLetter) { deadSeen.Add(1) }),
		outbox.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 8 {
		require.NoError(t, ob.Handle(ctx, pass("d", i)))
	}
	eventually(t, func() bool { return ob.Stats().Dead == 2 && ob.Stats().Queued == 0 }, "two dead letters")
	assert.Equal(t, []string{"d-0", "d-1", "d-2", "d-4", "d-6", "d-7"}, rec.ids("d"), "a dead letter does not block its lane")
	assert.Equal(t, int32(2), deadSeen.Load())
	assert.Equal(t, 2, strings.Count(logs.String(), "dead-letter"), "each dead letter is logged once")

	dead, err := ob.Dead(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	assert.Equal(t, "d-3", dead[0].Event.ID)
	assert.Contains(t, dead[0].Err, "400 bad event")
	assert.Equal(t, 1, dead[0].Attempts)
	assert.Equal(t, "d-5", dead[1].Event.ID)
	assert.Equal(t, "12345678", dead[0].Event.Pass.Credential, "the event is kept whole")

	bad.Store(false)
	require.NoError(t, ob.Replay(ctx, dead[0].Seq))
	eventually(t, func() bool { return len(rec.ids("d")) == 7 }, "replayed")
	assert.Equal(t, "d-3", rec.ids("d")[6])
	assert.ErrorIs(t, ob.Replay(ctx, dead[0].Seq), outbox.ErrNotFound)
	assert.ErrorIs(t, ob.Replay(ctx, dead[0].Seq), accessctl.ErrNotFound)

	require.NoError(t, ob.Discard(ctx, dead[1].Seq))
	st := ob.Stats()
	assert.Zero(t, st.Dead)
	assert.Equal(t, uint64(2), st.DeadLettered)
	left, err := ob.Dead(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, left)
	closeNow(t, ob)
}

func TestMaxAttempts(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	rec.setFail(func(e accessctl.Event) error {
		if e.ID == "d-0" {
			return errors.New("flaky forever")
		}
		return nil
	})
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithMaxAttempts(3))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, ob.Handle(ctx, pass("d", 0)))
	require.NoError(t, ob.Handle(ctx, pass("d", 1)))
	eventually(t, func() bool { return len(rec.ids("d")) == 1 && ob.Stats().Dead == 1 }, "the next event passes")
	dead, err := ob.Dead(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, 3, dead[0].Attempts)
	assert.Equal(t, uint64(2), ob.Stats().Retried)
	closeNow(t, ob)
}

// Disk full, simulated with the bound: the outbox refuses with ErrFull (so
// the driver does not ack), keeps everything it stored, and takes events
// again once delivery made room.
func TestFullRefusesAndRecovers(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	var down atomic.Bool
	down.Store(true)
	rec.setFail(func(accessctl.Event) error {
		if down.Load() {
			return errors.New("platform down")
		}
		return nil
	})
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithMaxEvents(50))
	require.NoError(t, err)
	ctx := context.Background()
	acked := 0
	var refused error
	for i := range 80 {
		if err := ob.Handle(ctx, pass("d", i)); err != nil {
			refused = err
			break
		}
		acked++
	}
	assert.Equal(t, 50, acked)
	require.ErrorIs(t, refused, outbox.ErrFull)
	assert.ErrorIs(t, refused, accessctl.ErrBufferFull)
	assert.Equal(t, uint64(1), ob.Stats().Refused)

	down.Store(false)
	eventually(t, func() bool { return rec.count() == 50 }, "stored events delivered")
	// Room comes back once the deletes are committed.
	eventually(t, func() bool { return ob.Handle(ctx, pass("d", 50)) == nil }, "accepts again")
	eventually(t, func() bool { return rec.count() == 51 }, "new event delivered")
	closeNow(t, ob)
}

func TestFullByBytes(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := newRecorder()
	rec.setFail(func(accessctl.Event) error { return errors.New("down") })
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithMaxBytes(4096))
	require.NoError(t, err)
	ctx := context.Background()
	n := 0
	for ; n < 1000; n++ {
		if err := ob.Handle(ctx, pass("d", n)); err != nil {
			require.ErrorIs(t, err, outbox.ErrFull)
			break
		}
	}
	big := pass("d", 5000)
	big.Raw = []byte(`"` + strings.Repeat("x", 5000) + `"`)
	err = ob.Handle(ctx, big)
	assert.ErrorIs(t, err, outbox.ErrTooLarge)
	assert.True(t, accessctl.IsPermanent(err), "it never fits")
	st := ob.Stats()
	assert.Less(t, n, 1000)
	assert.Equal(t, n, st.Queued)
	assert.LessOrEqual(t, st.Bytes, int64(4096))
	assert.Greater(t, st.Bytes, int64(4096-400), "filled close to the bound")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.NoError(t, ob.Close(short), "the platform is still down: the events stay on disk")
}

// Close returns within its deadline while the sink hangs, and every
// goroutine is gone (goleak).
func TestCloseDeadlineWithHungSink(t *testing.T) {
	defer goleak.VerifyNone(t)
	hang := accessctl.EventSinkFunc(func(ctx context.Context, _ accessctl.Event) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ob, err := outbox.Open(t.TempDir(), hang, fast)
	require.NoError(t, err)
	require.NoError(t, ob.Handle(context.Background(), pass("d", 0)))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, ob.Close(ctx))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, ob.Stats().Queued, "kept for the next open")
	assert.ErrorIs(t, ob.Close(ctx), accessctl.ErrClosed)
}

// A shared database: the caller owns it, the outbox does not close it, and
// the outbox's buckets leave room for others.
func TestNewOnSharedDB(t *testing.T) {
	defer goleak.VerifyNone(t)
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	_, err = outbox.New(db, nil)
	require.ErrorIs(t, err, accessctl.ErrInvalid)

	rec := newRecorder()
	ob, err := outbox.New(db, rec)
	require.NoError(t, err)
	require.NoError(t, ob.Handle(context.Background(), pass("d", 0)))
	eventually(t, func() bool { return rec.count() == 1 }, "delivered")
	closeNow(t, ob)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("someone-else"))
		return err
	}), "the database is still open")
}
