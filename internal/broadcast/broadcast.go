package broadcast

import (
	"context"
	"sync"
)

// Signal wakes every goroutine in Wait. The zero value is ready. Its
// methods are called by the holders of one mutex: Notify with it held,
// Wait takes it itself.
type Signal struct {
	ch chan struct{} // made by the first waiter, closed by Notify
}

// Notify wakes the waiters; the caller holds the mutex. Without waiters it
// costs nothing.
func (s *Signal) Notify() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// Wait blocks until cond, called with mu held, reports true, or until ctx
// ends (then it returns ctx.Err()). cond is checked first and after every
// Notify. mu is not held when Wait returns.
func (s *Signal) Wait(ctx context.Context, mu sync.Locker, cond func() bool) error {
	mu.Lock()
	for !cond() {
		if s.ch == nil {
			s.ch = make(chan struct{})
		}
		ch := s.ch
		mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
	}
	mu.Unlock()
	return nil
}
