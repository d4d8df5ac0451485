package hciot

import (
	"math"
	"net"
	"sync"
	"time"
)

// failThrottle limits wrong getAccessToken secrets per source address with
// a token bucket: each failure takes a token, a token comes back every
// `every`, and an address with none left is answered 429 without its
// secret being looked at (a right one too, so guessing stays slow). The
// table is bounded: a full one forgets the address whose bucket is the
// fullest, which is the one that has failed least lately.
type failThrottle struct {
	burst float64
	every time.Duration
	max   int

	mu    sync.Mutex
	addrs map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailThrottle(burst int, every time.Duration, max int) *failThrottle {
	return &failThrottle{burst: float64(burst), every: every, max: max, addrs: map[string]*bucket{}}
}

// sourceOf is the address a throttle counts by: the peer's IP, not a
// header a client could set.
func sourceOf(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// refill brings b up to now.
func (t *failThrottle) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.every))
		b.at = now
	}
}

// allowed reports whether src may try a secret now, and if not, how long
// until it may.
func (t *failThrottle) allowed(src string, now time.Time) (bool, time.Duration) {
	if t == nil {
		return true, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.addrs[src]
	if !ok {
		return true, 0
	}
	t.refill(b, now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(t.every))
}

// failed takes a token from src's bucket.
func (t *failThrottle) failed(src string, now time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.addrs[src]
	if !ok {
		if len(t.addrs) >= t.max {
			t.evictLocked(now)
		}
		b = &bucket{tokens: t.burst, at: now}
		t.addrs[src] = b
	}
	t.refill(b, now)
	b.tokens = math.Max(0, b.tokens-1)
}

// evictLocked drops the buckets that have refilled, or else the fullest.
func (t *failThrottle) evictLocked(now time.Time) {
	var fullest string
	most := -1.0
	for k, b := range t.addrs {
		t.refill(b, now)
		if b.tokens >= t.burst {
			delete(t.addrs, k)
			continue
		}
		if b.tokens > most {
			fullest, most = k, b.tokens
		}
	}
	if len(t.addrs) >= t.max {
		delete(t.addrs, fullest)
	}
}

func (t *failThrottle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.addrs)
}
