package faults

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is an EventSink that keeps every event and can be down.
type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
	down   bool
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

var errDown = context.DeadlineExceeded

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		return errDown
	}
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) setDown(down bool) { r.mu.Lock(); r.down = down; r.mu.Unlock() }

// of returns the events of one kind (and device, when not empty).
func (r *recorder) of(kind accessctl.EventKind, device string) []accessctl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []accessctl.Event
	for _, e := range r.events {
		if e.Kind == kind && (device == "" || e.Device.ID == device) {
			out = append(out, e)
		}
	}
	return out
}

// waitN waits until there are at least n events of kind for device.
func (r *recorder) waitN(t *testing.T, kind accessctl.EventKind, device string, n int, within time.Duration) accessctl.Event {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if es := r.of(kind, device); len(es) >= n {
			return es[n-1]
		}
		select {
		case <-r.notify:
		case <-time.After(10 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("no %d× %s event for %q within %v", n, kind, device, within)
		}
	}
}

// watchStatus polls dev.Status until stop and records whether it ever
// answered online, for "never online after the offline event".
func watchStatus(dev accessctl.Device) (stop func() (sawOnline bool)) {
	done := make(chan struct{})
	var saw bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if st, err := dev.Status(context.Background()); err == nil && st.Online {
				saw = true
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() bool { close(done); wg.Wait(); return saw }
}

func waitStatus(t *testing.T, dev accessctl.Device, online bool, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := dev.Status(context.Background())
		return err == nil && st.Online == online
	}, within, 5*time.Millisecond, "%s online=%v", dev.ID(), online)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
