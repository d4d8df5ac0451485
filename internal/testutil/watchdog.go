package testutil

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestingM is what TestMain is given (*testing.M), and what
// goleak.VerifyTestMain takes.
type TestingM interface{ Run() int }

// WatchdogEnv overrides the bound of Watchdog (a time.Duration such as
// "20m"), for a machine slower than the one the bound was chosen on.
const WatchdogEnv = "MENJIN_TEST_WATCHDOG"

// Watchdog bounds a whole test binary: when its tests run longer than d
// per -count, every goroutine's stack is written to stderr and the binary
// exits with status 2. A hung test then fails in minutes with the stacks
// that show where it waits, instead of at go test's -timeout (30 minutes
// in `make unit`). Wrap m in TestMain:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 5*time.Minute)) }
//	func TestMain(m *testing.M) { os.Exit(testutil.Watchdog(m, 5*time.Minute).Run()) }
//
// It starts no goroutine until it fires (goleak stays quiet).
func Watchdog(m TestingM, d time.Duration) TestingM { return &watchdog{m: m, d: d} }

type watchdog struct {
	m TestingM
	d time.Duration
}

func (w *watchdog) Run() int {
	if !flag.Parsed() {
		flag.Parse() // testing.M.Run would; -count is needed now
	}
	d := watchdogBound(w.d, os.Getenv(WatchdogEnv), countFlag())
	t := time.AfterFunc(d, func() { bark(d) })
	defer t.Stop()
	return w.m.Run()
}

// watchdogBound is d per -count run, or what env says.
func watchdogBound(d time.Duration, env string, count uint) time.Duration {
	if v, err := time.ParseDuration(env); err == nil && v > 0 {
		return v
	}
	return d * time.Duration(max(count, 1))
}

func countFlag() uint {
	f := flag.Lookup("test.count")
	if f == nil {
		return 1
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if n, ok := g.Get().(uint); ok {
			return n
		}
	}
	return 1
}

var barkOnce sync.Once

func bark(d time.Duration) {
	barkOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "\ntestutil.Watchdog: the tests ran longer than %v: a test hangs. Goroutines:\n\n%s\n", d, Stacks())
		os.Exit(2)
	})
}

// Stacks returns the stacks of all goroutines, however many there are.
func Stacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Bound is how long the helpers below wait for something that is expected
// at once: long, so that a loaded machine does not fail a test, and finite,
// so that nothing waits forever.
const Bound = 20 * time.Second

// Recv returns the next value of ch, failing t when none comes within
// Bound (or when ch is closed).
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Bound)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %v", what, Bound)
	}
	var zero T
	return zero
}

// Done waits until done is closed, failing t after Bound.
func Done[T any](t testing.TB, done <-chan T, what string) {
	t.Helper()
	timer := time.NewTimer(Bound)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s: not done within %v", what, Bound)
	}
}

// Wait waits for wg, failing t after Bound (the waiting goroutine then
// stays behind; the test has failed anyway).
func Wait(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	Done(t, done, what)
}
