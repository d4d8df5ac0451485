package broadcast

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWaitWakesOnNotify(t *testing.T) {
	var (
		mu      sync.Mutex
		s       Signal
		n       int
		waiters sync.WaitGroup
	)
	errs := make(chan error, 3)
	for range 3 {
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			errs <- s.Wait(context.Background(), &mu, func() bool { return n >= 5 })
		}()
	}
	for range 5 {
		time.Sleep(time.Millisecond)
		mu.Lock()
		n++
		s.Notify()
		mu.Unlock()
	}
	waiters.Wait()
	for range 3 {
		require.NoError(t, <-errs)
	}
}

func TestWaitReturnsAtOnceWhenTrue(t *testing.T) {
	var mu sync.Mutex
	var s Signal
	require.NoError(t, s.Wait(context.Background(), &mu, func() bool { return true }))
	assert.True(t, mu.TryLock(), "mu is released")
}

func TestWaitEndsWithContext(t *testing.T) {
	var mu sync.Mutex
	var s Signal
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Wait(ctx, &mu, func() bool { return false })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, mu.TryLock(), "mu is released")
}

func TestNotifyWithoutWaitersAllocatesNothing(t *testing.T) {
	var s Signal
	assert.Zero(t, testing.AllocsPerRun(100, s.Notify))
}
