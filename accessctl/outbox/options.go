package outbox

import (
	"log/slog"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/backoff"
)

// Option configures an Outbox.
type Option func(*config)

type config struct {
	maxEvents       int
	maxBytes        int64
	concurrency     int
	retry           backoff.Policy
	deliveryTimeout time.Duration
	maxAttempts     int
	maxBatch        int
	readAhead       int
	linger          time.Duration
	gather          time.Duration
	cacheBytes      int64
	onError         func(accessctl.Event, error)
	onDead          func(DeadLetter)
	now             func() time.Time
	log             *slog.Logger
}

func defaults() config {
	return config{
		maxEvents:       1_000_000,
		maxBytes:        1 << 30,
		concurrency:     8,
		retry:           backoff.Policy{Min: 200 * time.Millisecond, Max: time.Minute, Factor: 2, Jitter: 0.2},
		deliveryTimeout: 30 * time.Second,
		maxBatch:        1024,
		readAhead:       64,
		linger:          5 * time.Millisecond,
		gather:          200 * time.Microsecond,
		cacheBytes:      32 << 20,
		now:             time.Now,
		log:             slog.New(slog.DiscardHandler),
	}
}

// WithMaxEvents bounds how many events the outbox stores, queued and dead
// together (default 1,000,000). At the bound Handle returns ErrFull.
func WithMaxEvents(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxEvents = n
		}
	}
}

// WithMaxBytes bounds the bytes of stored events, queued and dead together
// (default 1 GiB; bbolt's file adds its page overhead on top). At the bound
// Handle returns ErrFull.
func WithMaxBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// WithConcurrency is how many devices' events are delivered at the same
// time (default 8). Each device's events are always delivered one at a
// time, in order.
func WithConcurrency(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.concurrency = n
		}
	}
}

// WithRetry sets the backoff between failed deliveries of a device's head
// event (default 200 ms doubling to 1 min, ±20 %).
func WithRetry(p backoff.Policy) Option { return func(c *config) { c.retry = p } }

// WithDeliveryTimeout bounds each call to the next sink (default 30 s), so
// that a hung platform is retried rather than waited for.
func WithDeliveryTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.deliveryTimeout = d
		}
	}
}

// WithMaxAttempts dead-letters an event after n failed deliveries in a row
// (default 0: retry until it is accepted or fails with accessctl.Permanent,
// which a platform down for a day needs).
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = max(0, n) } }

// WithMaxBatch bounds how many appends share one commit (default 1024).
func WithMaxBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// WithOnError is called with every failed delivery.
func WithOnError(f func(e accessctl.Event, err error)) Option {
	return func(c *config) { c.onError = f }
}

// WithLogger sets the outbox's logger (default and nil: discard). Failed
// deliveries are logged at Debug (they are retried), dead letters at Warn.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithOnDead is called with every event moved to the dead-letter area.
func WithOnDead(f func(DeadLetter)) Option { return func(c *config) { c.onDead = f } }

// WithClock sets the clock that stamps dead letters (default time.Now).
// Delivery order never depends on it: events are ordered by a sequence
// number, so a clock that jumps reorders nothing.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithCacheBytes bounds the memory that keeps queued events decoded, so
// that delivering an event appended by this process does not read and
// decode it back from disk (default 32 MiB; 0 turns it off). Events beyond
// it, and all events found on disk at Open, are read back from disk.
func WithCacheBytes(n int64) Option { return func(c *config) { c.cacheBytes = max(0, n) } }
