package liveness_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// log keeps every event per device and checks the rule as they come: kinds
// alternate, starting with online, and no id repeats.
type log struct {
	mu     sync.Mutex
	events map[string][]accessctl.Event
	ids    map[string]bool
	bad    []string
	fail   atomic.Bool
}

func newLog() *log { return &log{events: map[string][]accessctl.Event{}, ids: map[string]bool{}} }

func (l *log) Handle(_ context.Context, e accessctl.Event) error {
	if l.fail.Load() {
		return errors.New("sink down")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.events[e.Device.ID]
	want := accessctl.KindOnline
	if len(evs) > 0 && evs[len(evs)-1].Kind == accessctl.KindOnline {
		want = accessctl.KindOffline
	}
	if e.Kind != want && len(l.bad) < 10 {
		l.bad = append(l.bad, fmt.Sprintf("%s: %s after %d events", e.Device.ID, e.Kind, len(evs)))
	}
	if l.ids[e.ID] && len(l.bad) < 10 {
		l.bad = append(l.bad, "duplicate id "+e.ID)
	}
	l.ids[e.ID] = true
	if e.Status == nil || e.Status.Online != (e.Kind == accessctl.KindOnline) {
		l.bad = append(l.bad, "status does not match kind: "+e.ID)
	}
	l.events[e.Device.ID] = append(evs, e)
	return nil
}

func (l *log) kinds(dev string) []accessctl.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []accessctl.EventKind
	for _, e := range l.events[dev] {
		ks = append(ks, e.Kind)
	}
	return ks
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	on  = accessctl.KindOnline
	off = accessctl.KindOffline
	dev = accessctl.DeviceRef{Platform: "ws", ID: "T1"}
)

func closeT(t *testing.T, lv *liveness.Tracker) {
	t.Helper()
	require.NoError(t, lv.Close(context.Background()))
}

func TestSilenceAndReconnect(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, c := newLog(), &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lv := liveness.New(l, liveness.WithTimeout(30*time.Second), liveness.WithClock(c.Now),
		liveness.WithEvent(func(e *accessctl.Event) { e.Platform = "demo" }))
	ctx := context.Background()

	require.NoError(t, lv.Seen(ctx, dev))
	for range 5 {
		c.Add(10 * time.Second)
		require.NoError(t, lv.Seen(ctx, dev)) // heartbeats
		require.NoError(t, lv.Check(ctx))
	}
	assert.Equal(t, []accessctl.EventKind{on}, l.kinds("T1"), "heartbeats keep it online, once")
	st, ok := lv.Status(dev)
	require.True(t, ok)
	assert.True(t, st.Online)
	assert.Equal(t, c.Now(), st.LastSeen)

	c.Add(29 * time.Second)
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on}, l.kinds("T1"), "not yet: 29 s of silence")
	c.Add(time.Second)
	require.NoError(t, lv.Check(ctx))
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on, off}, l.kinds("T1"), "offline once after 30 s")
	st, _ = lv.Status(dev)
	assert.False(t, st.Online)

	c.Add(time.Minute)
	require.NoError(t, lv.Seen(ctx, dev))
	assert.Equal(t, []accessctl.EventKind{on, off, on}, l.kinds("T1"))
	require.NoError(t, lv.Lost(ctx, dev))
	require.NoError(t, lv.Lost(ctx, dev))
	assert.Equal(t, []accessctl.EventKind{on, off, on, off}, l.kinds("T1"), "a lost connection is offline now, once")
	assert.Empty(t, l.bad)
	assert.Equal(t, "demo", l.events["T1"][0].Platform)
	assert.Equal(t, accessctl.TimeReceipt, l.events["T1"][0].TimeSource)
	closeT(t, lv)
	assert.ErrorIs(t, lv.Seen(ctx, dev), accessctl.ErrClosed)
}

// A refused event does not change the state: the next frame emits it again
// with the same id, so a deduping sink sees one transition.
func TestSinkRefusesThenAccepts(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, c := newLog(), &clock{t: time.Unix(1e9, 0)}
	lv := liveness.New(l, liveness.WithTimeout(time.Minute), liveness.WithClock(c.Now))
	ctx := context.Background()
	l.fail.Store(true)
	require.Error(t, lv.Seen(ctx, dev))
	st, _ := lv.Status(dev)
	assert.False(t, st.Online, "not online until the platform heard it")
	c.Add(time.Second)
	l.fail.Store(false)
	require.NoError(t, lv.Seen(ctx, dev))
	require.Len(t, l.events["T1"], 1)
	assert.Equal(t, time.Unix(1e9, 0), l.events["T1"][0].Status.Since, "the transition's first frame")

	l.fail.Store(true)
	c.Add(2 * time.Minute)
	require.Error(t, lv.Check(ctx))
	st, _ = lv.Status(dev)
	assert.True(t, st.Online, "still online until the offline event is accepted")
	l.fail.Store(false)
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on, off}, l.kinds("T1"))
	assert.Empty(t, l.bad)
	closeT(t, lv)
}

// A clock that jumps back does not leave a silent device online for the
// size of the jump; one that jumps ahead reports the silence it measured.
func TestClockJump(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, c := newLog(), &clock{t: time.Unix(2e9, 0)}
	lv := liveness.New(l, liveness.WithTimeout(30*time.Second), liveness.WithClock(c.Now))
	ctx := context.Background()
	require.NoError(t, lv.Seen(ctx, dev))
	c.Add(-time.Hour)
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on}, l.kinds("T1"), "a jump back is not silence")
	c.Add(30 * time.Second)
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on, off}, l.kinds("T1"), "offline 30 s after the jump, not an hour later")

	require.NoError(t, lv.Seen(ctx, dev))
	c.Add(24 * time.Hour)
	require.NoError(t, lv.Check(ctx))
	assert.Equal(t, []accessctl.EventKind{on, off, on, off}, l.kinds("T1"))
	assert.Empty(t, l.bad)
	closeT(t, lv)
}

// The tracker's own goroutine reports silence in real time, within
// Timeout + CheckEvery.
func TestRealTimeBound(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := newLog()
	lv := liveness.New(l, liveness.WithTimeout(60*time.Millisecond), liveness.WithCheckEvery(10*time.Millisecond))
	start := time.Now()
	require.NoError(t, lv.Seen(context.Background(), dev))
	require.Eventually(t, func() bool { return len(l.kinds("T1")) == 2 }, 2*time.Second, time.Millisecond)
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 60*time.Millisecond)
	assert.Less(t, took, 60*time.Millisecond+10*time.Millisecond+200*time.Millisecond, "bounded (with scheduling slack)")
	closeT(t, lv)
}

// Close reports the devices still online offline: once the gateway stops
// nobody vouches for them.
func TestCloseReportsOffline(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := newLog()
	lv := liveness.New(l)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, lv.Seen(ctx, accessctl.DeviceRef{ID: fmt.Sprint("d", i)}))
	}
	require.NoError(t, lv.Lost(ctx, accessctl.DeviceRef{ID: "d1"}))
	closeT(t, lv)
	for i := range 3 {
		assert.Equal(t, []accessctl.EventKind{on, off}, l.kinds(fmt.Sprint("d", i)))
	}
	assert.ErrorIs(t, lv.Close(ctx), accessctl.ErrClosed)
	assert.Empty(t, l.bad)

	l2 := newLog()
	lv = liveness.New(l2, liveness.WithOfflineOnClose(false))
	require.NoError(t, lv.Seen(ctx, dev))
	closeT(t, lv)
	assert.Equal(t, []accessctl.EventKind{on}, l2.kinds("T1"))
}

// Reconnect storm: 1,000 terminals connecting, dropping and reconnecting
// at once, with the silence checker running. Every device's events
// alternate online/offline, no id repeats, and the final state is the truth.
func TestReconnectStorm(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, c := newLog(), &clock{t: time.Unix(3e9, 0)}
	lv := liveness.New(l, liveness.WithTimeout(time.Second), liveness.WithClock(c.Now))
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	final := make([]bool, n)
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for d := w; d < n; d += 8 {
				ref := accessctl.DeviceRef{ID: fmt.Sprintf("t%04d", d)}
				for range 1 + r.IntN(6) {
					assert.NoError(t, lv.Seen(ctx, ref))
					if r.IntN(2) == 0 {
						assert.NoError(t, lv.Lost(ctx, ref))
					}
				}
				online := r.IntN(3) > 0
				if online {
					assert.NoError(t, lv.Seen(ctx, ref))
				} else {
					assert.NoError(t, lv.Lost(ctx, ref))
				}
				final[d] = online
			}
		})
	}
	wg.Add(1)
	go func() { // the checker runs during the storm; nothing is silent yet
		defer wg.Done()
		for range 50 {
			assert.NoError(t, lv.Check(ctx))
		}
	}()
	wg.Wait()
	for d := range n {
		st, ok := lv.Status(accessctl.DeviceRef{ID: fmt.Sprintf("t%04d", d)})
		require.True(t, ok)
		require.Equal(t, final[d], st.Online, "t%04d", d)
		ks := l.kinds(fmt.Sprintf("t%04d", d))
		require.Equal(t, final[d], ks[len(ks)-1] == on, "the last event is the truth for t%04d", d)
	}
	// Then the whole site goes silent: every online terminal goes offline once.
	c.Add(2 * time.Second)
	require.NoError(t, lv.Check(ctx))
	for d := range n {
		ks := l.kinds(fmt.Sprintf("t%04d", d))
		require.Equal(t, off, ks[len(ks)-1])
	}
	assert.Empty(t, l.bad)
	require.NoError(t, lv.Close(ctx))
	assert.Empty(t, l.bad, "close added no second offline")
}

// A device that reconnects while it was believed online (it rebooted inside
// the offline window) gets a new online event: every KindOnline means a
// (re)connect, so the host can resync. Ids follow EventID and stay the same
// while the sink refuses; deliveries are counted.
func TestConnectedWhileOnline(t *testing.T) {
	defer goleak.VerifyNone(t)
	var (
		mu     sync.Mutex
		got    []accessctl.Event
		refuse atomic.Bool
	)
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		if refuse.Load() {
			return errors.New("sink down")
		}
		return nil
	})
	c := &clock{t: time.Unix(4e9, 0)}
	var counter accessctl.DeliveryCounter
	lv := liveness.New(sink, liveness.WithClock(c.Now), liveness.WithDelivery(&counter))
	ctx := context.Background()

	require.NoError(t, lv.Connected(ctx, dev))
	require.NoError(t, lv.Seen(ctx, dev))
	c.Add(time.Second)
	refuse.Store(true)
	require.Error(t, lv.Connected(ctx, dev), "the reboot's online is refused")
	c.Add(time.Second)
	refuse.Store(false)
	require.NoError(t, lv.Seen(ctx, dev), "the next frame delivers it")
	require.NoError(t, lv.Seen(ctx, dev))

	mu.Lock()
	require.Len(t, got, 3)
	assert.Equal(t, on, got[0].Kind)
	assert.Equal(t, on, got[1].Kind)
	assert.Equal(t, got[1].ID, got[2].ID, "redelivery keeps the id")
	assert.NotEqual(t, got[0].ID, got[1].ID, "a new session is a new event")
	assert.Equal(t, liveness.EventID(dev, on, time.Unix(4e9, 0), 1), got[0].ID)
	assert.Equal(t, "ws:T1/online/4000000000000000000.1", got[0].ID)
	mu.Unlock()

	st, _ := lv.Status(dev)
	assert.True(t, st.Online)
	assert.Equal(t, time.Unix(4e9+1, 0), st.Since, "online since the new session")

	// An online the sink never took, overtaken by a lost connection, is
	// counted as dropped rather than vanishing.
	refuse.Store(true)
	require.Error(t, lv.Connected(ctx, dev))
	refuse.Store(false)
	require.NoError(t, lv.Lost(ctx, dev))
	s := counter.Stats()
	assert.Equal(t, accessctl.DeliveryStats{Delivered: 3, Refused: 2, Retried: 1, Dropped: 1}, s)
	assert.Equal(t, s, lv.Stats())
	closeT(t, lv)
}
