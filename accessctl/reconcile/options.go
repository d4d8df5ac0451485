package reconcile

import (
	"log/slog"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/backoff"
)

// Option configures a Reconciler.
type Option func(*config)

type config struct {
	concurrency int
	batch       int
	retry       backoff.Policy
	maxAttempts int
	callTimeout time.Duration
	now         func() time.Time
	onStatus    func(accessctl.SyncStatus)
	keepUnknown bool
	isReset     func(accessctl.Event) bool
	log         *slog.Logger
}

func defaults() config {
	return config{
		concurrency: 4,
		batch:       64,
		retry:       backoff.Policy{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2},
		maxAttempts: 5,
		callTimeout: 30 * time.Second,
		now:         time.Now,
		log:         slog.New(slog.DiscardHandler),
	}
}

// WithConcurrency bounds the calls in flight to one device (default 4):
// terminals on a slow link or with a small CPU answer one call at a time
// anyway, and a burst of a thousand would only time out.
func WithConcurrency(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.concurrency = n
		}
	}
}

// WithBatch is how many persons of one device are looked at per round
// (default 64); the state of a round is written in two transactions, before
// the calls (in flight) and after them (the outcomes).
func WithBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batch = n
		}
	}
}

// WithRetry sets the backoff of a device after a round with failures, and
// the probing of a device that is offline (default 1 s doubling to 1 min,
// ±20 %).
func WithRetry(p backoff.Policy) Option { return func(c *config) { c.retry = p } }

// WithMaxAttempts is how many failed attempts of one (person, device) make
// it needs_manual (default 5). Calls that fail with accessctl.ErrOffline
// sent nothing and do not count.
func WithMaxAttempts(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxAttempts = n
		}
	}
}

// WithCallTimeout bounds each PutGrant, RemoveGrant and ListGrants call
// (default 30 s).
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.callTimeout = d
		}
	}
}

// WithClock sets the clock of the attempt times in the statuses (default
// time.Now). Backoff waits use timers, so a clock that jumps does not make
// the reconciler retry early or late.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithOnStatus is called with every status change, after it is stored.
// It runs on the reconciler's goroutines: keep it quick.
func WithOnStatus(f func(accessctl.SyncStatus)) Option {
	return func(c *config) { c.onStatus = f }
}

// WithKeepUnknown leaves alone the persons a listing device holds that the
// reconciler neither pushed nor was asked for (enrolled at the device, or by
// another system). By default the desired state is the whole truth and such
// persons are removed.
func WithKeepUnknown() Option { return func(c *config) { c.keepUnknown = true } }

// WithResetEvents tells which events report that a device lost its users
// (a factory reset, a wiped store): Handle and Watch then call Reset for
// the device, so its grants are pending again and are pushed again. Which
// events those are is the driver's word (an alarm type, a boot report), so
// the host says.
func WithResetEvents(isReset func(accessctl.Event) bool) Option {
	return func(c *config) { c.isReset = isReset }
}

// WithLogger sets the reconciler's logger (default and nil: discard). A
// pair that needs a person (invalid_input, needs_manual, unknown) is logged
// at Warn, a failure that will be retried at Debug.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}
