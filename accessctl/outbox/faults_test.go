package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
)

// upstream is a platform whose answer the test scripts per request.
type upstream struct {
	*platform
	answer func(n int64, r *http.Request) int // 0: accept
	n      atomic.Int64
}

func newUpstream(answer func(n int64, r *http.Request) int) *upstream {
	u := &upstream{platform: newPlatform(), answer: answer}
	u.up.Store(true)
	return u
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code := u.answer(u.n.Add(1), r); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	u.platform.ServeHTTP(w, r)
}

func startFault(t *testing.T, u http.Handler, opts ...outbox.Option) (*outbox.Outbox, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(u)
	ob, err := outbox.Open(t.TempDir(), httpSink{url: srv.URL, client: srv.Client()}, append([]outbox.Option{fast}, opts...)...)
	require.NoError(t, err)
	return ob, srv
}

func feed(t *testing.T, ob *outbox.Outbox, devs, each int) {
	t.Helper()
	for i := range each {
		for d := range devs {
			require.NoError(t, ob.Handle(context.Background(), pass(fmt.Sprintf("d%d", d), i)))
		}
	}
}

// The platform answers 503 for a while: nothing is lost, everything
// arrives once it recovers, and the retries are counted.
func TestFault5xx(t *testing.T) {
	defer goleak.VerifyNone(t)
	var healthy atomic.Bool
	u := newUpstream(func(int64, *http.Request) int {
		if !healthy.Load() {
			return http.StatusBadGateway
		}
		return 0
	})
	ob, srv := startFault(t, u)
	defer srv.Close()
	feed(t, ob, 4, 25)
	require.Eventually(t, func() bool { return ob.Stats().Retried >= 8 }, 5*time.Second, time.Millisecond)
	unique, _ := u.counts()
	assert.Zero(t, unique)
	healthy.Store(true)
	require.Eventually(t, func() bool { return ob.Stats().Delivered == 100 }, 10*time.Second, time.Millisecond)
	unique, _ = u.counts()
	assert.Equal(t, 100, unique)
	st := ob.Stats()
	assert.Zero(t, st.Dead, "5xx is never a reason to give up")
	closeNow(t, ob)
}

// The platform hangs: each delivery is cut by the delivery timeout and
// tried again; when it answers again everything arrives; Close is bounded
// even while a request hangs.
func TestFaultHang(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	var hanging atomic.Bool
	hanging.Store(true)
	u := newUpstream(func(_ int64, r *http.Request) int {
		if hanging.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return http.StatusGatewayTimeout
		}
		return 0
	})
	ob, srv := startFault(t, u, outbox.WithDeliveryTimeout(30*time.Millisecond))
	defer srv.Close()
	defer close(release)
	feed(t, ob, 2, 10)
	require.Eventually(t, func() bool { return ob.Stats().Retried >= 4 }, 5*time.Second, time.Millisecond, "timeouts are retried")
	hanging.Store(false)
	require.Eventually(t, func() bool { u, _ := u.counts(); return u == 20 }, 10*time.Second, time.Millisecond)

	// Hang again with events queued: Close returns at its deadline.
	hanging.Store(true)
	feed(t, ob, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, ob.Close(ctx))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, ob.Stats().Queued, "kept on disk")
}

// 401: the token expired. It is retried (the uploader refreshes its token),
// never dead-lettered; a 400 is permanent and goes to the dead letters.
func TestFault401And400(t *testing.T) {
	defer goleak.VerifyNone(t)
	u := newUpstream(func(n int64, r *http.Request) int {
		if n <= 5 {
			return http.StatusUnauthorized
		}
		if r.Header.Get("Idempotency-Key") == "d0-3" {
			return http.StatusBadRequest
		}
		return 0
	})
	var errs sync.Map
	ob, srv := startFault(t, u, outbox.WithOnError(func(e accessctl.Event, err error) { errs.Store(e.ID, err) }))
	defer srv.Close()
	feed(t, ob, 1, 6)
	require.Eventually(t, func() bool { st := ob.Stats(); return st.Delivered == 5 && st.Dead == 1 }, 10*time.Second, time.Millisecond)
	st := ob.Stats()
	assert.GreaterOrEqual(t, st.Retried, uint64(5), "every 401 was retried")
	dead, err := ob.Dead(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "d0-3", dead[0].Event.ID)
	assert.Contains(t, dead[0].Err, "HTTP 400")
	e, ok := errs.Load("d0-3")
	require.True(t, ok)
	assert.True(t, accessctl.IsPermanent(e.(error)))
	unique, _ := u.counts()
	assert.Equal(t, 5, unique)
	closeNow(t, ob)
}

// Disk full, simulated with the bound while the platform is down: the
// outbox refuses (the device keeps the event), and once the platform takes
// the backlog the outbox takes new events again. Refused events were never
// acknowledged, so nothing acknowledged is missing.
func TestFaultDiskFull(t *testing.T) {
	defer goleak.VerifyNone(t)
	var healthy atomic.Bool
	u := newUpstream(func(int64, *http.Request) int {
		if !healthy.Load() {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	ob, srv := startFault(t, u, outbox.WithMaxEvents(40))
	defer srv.Close()
	ctx := context.Background()
	var acked []string
	refused := 0
	for i := range 60 {
		e := pass("d", i)
		switch err := ob.Handle(ctx, e); {
		case err == nil:
			acked = append(acked, e.ID)
		default:
			require.ErrorIs(t, err, outbox.ErrFull)
			refused++
		}
	}
	assert.Len(t, acked, 40)
	assert.Equal(t, 20, refused)
	healthy.Store(true)
	// The device resends what was refused, as a device that got no ack does.
	for i := 40; i < 60; i++ {
		e := pass("d", i)
		require.Eventually(t, func() bool { return ob.Handle(ctx, e) == nil }, 10*time.Second, time.Millisecond)
		acked = append(acked, e.ID)
	}
	require.Eventually(t, func() bool { u, _ := u.counts(); return u == 60 }, 10*time.Second, time.Millisecond)
	u.mu.Lock()
	for _, id := range acked {
		assert.Equal(t, 1, u.seen[id], id)
	}
	u.mu.Unlock()
	closeNow(t, ob)
}

// Clock jump: device clocks that jump (event times going back a year) and
// an outbox clock that jumps do not reorder or drop anything: order is a
// sequence number, and dead letters carry the injected clock's time.
func TestFaultClockJump(t *testing.T) {
	defer goleak.VerifyNone(t)
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now.Store(&t0)
	rec := newRecorder()
	rec.setFail(func(e accessctl.Event) error {
		if e.ID == "d-2" {
			return accessctl.Permanent(fmt.Errorf("refused"))
		}
		return nil
	})
	ob, err := outbox.Open(t.TempDir(), rec, fast, outbox.WithClock(func() time.Time { return *now.Load() }))
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 6 {
		e := pass("d", i)
		e.OccurredAt = t0.AddDate(0, 0, -i*60) // the device clock runs backwards
		if i == 2 {
			back := t0.Add(-48 * time.Hour)
			now.Store(&back) // and the gateway clock jumps back too
		}
		require.NoError(t, ob.Handle(ctx, e))
	}
	eventually(t, func() bool { return len(rec.ids("d")) == 5 && ob.Stats().Dead == 1 }, "delivered")
	assert.Equal(t, []string{"d-0", "d-1", "d-3", "d-4", "d-5"}, rec.ids("d"))
	dead, err := ob.Dead(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, t0.Add(-48*time.Hour), dead[0].At.UTC())
	closeNow(t, ob)
}
