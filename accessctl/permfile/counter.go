package permfile

import (
	"context"
	"sync"
)

// Counter counts successful scans of QR codes. TryUse must be atomic: two
// doors (or two readers of one door) racing for the last scan must not both
// get it. Implement it over a database or a shared cache to share a SHARE
// budget across doors.
type Counter interface {
	// TryUse increments the count for key if it is below limit. It returns
	// the count after the call and whether the scan was granted.
	TryUse(ctx context.Context, key string, limit int) (used int, ok bool, err error)
	// Used returns the current count (0 for an unknown key).
	Used(ctx context.Context, key string) (int, error)
	// Reset forgets key; the next TryUse starts from 0.
	Reset(ctx context.Context, key string) error
}

// MemCounter is an in-memory Counter. Counts are lost on restart.
type MemCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// NewMemCounter returns an empty MemCounter.
func NewMemCounter() *MemCounter { return &MemCounter{n: map[string]int{}} }

func (c *MemCounter) TryUse(_ context.Context, key string, limit int) (int, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	used := c.n[key]
	if used >= limit {
		return used, false, nil
	}
	used++
	c.n[key] = used
	return used, true, nil
}

func (c *MemCounter) Used(_ context.Context, key string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key], nil
}

func (c *MemCounter) Reset(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.n, key)
	return nil
}
