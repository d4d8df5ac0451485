package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Outcome says what Resolve did with a reply.
type Outcome int

const (
	Delivered Outcome = iota // a waiting request got it
	Late                     // its request already timed out or was cancelled
	Duplicate                // its request was already answered
	Unknown                  // no request ever had this id (recently)
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Late:
		return "late"
	case Duplicate:
		return "duplicate"
	}
	return "unknown"
}

// recentSize is how many finished ids Pending remembers to tell a late or a
// duplicate reply from an unknown one.
const recentSize = 64

// Pending correlates requests with replies by a string id. It is the
// protocol-neutral half of request/response: the carrier sends, the reader
// calls Resolve. The zero value is ready to use; it allocates on first use.
type Pending[T any] struct {
	mu      sync.Mutex
	free    sync.Pool // released calls, channel included
	waiting map[string]*Call[T]
	recent  []finished // ring of recently finished ids
	next    int
	closed  error
}

type finished struct {
	id       string
	answered bool
}

type result[T any] struct {
	v   T
	err error
}

// Call is one request waiting for its reply.
type Call[T any] struct {
	p  *Pending[T]
	id string
	ch chan result[T]
}

// ID is the request's id.
func (c *Call[T]) ID() string { return c.id }

// Add registers id as waiting. It fails with ErrDuplicateID while id is
// already waiting, and with the close error after Close.
func (p *Pending[T]) Add(id string) (*Call[T], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed != nil {
		return nil, p.closed
	}
	if _, dup := p.waiting[id]; dup {
		return nil, fmt.Errorf("%w: %q", ErrDuplicateID, id)
	}
	if p.waiting == nil {
		p.waiting = make(map[string]*Call[T])
	}
	c, _ := p.free.Get().(*Call[T])
	if c == nil {
		c = &Call[T]{p: p, ch: make(chan result[T], 1)}
	}
	c.id = id
	p.waiting[id] = c
	return c, nil
}

// Wait blocks until the reply, a failure, ctx's end or timeout (0: none).
// A timeout returns an error wrapping ErrTimeout (so does a ctx deadline);
// the id is then remembered as late.
func (c *Call[T]) Wait(ctx context.Context, timeout time.Duration) (T, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := getTimer(timeout)
		defer putTimer(t)
		tc = t.C
	}
	select {
	case r := <-c.ch:
		return r.v, r.err
	case <-tc:
		return c.abandon(fmt.Errorf("%w: no reply to %q within %v", ErrTimeout, c.id, timeout))
	case <-ctx.Done():
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: no reply to %q: %w", ErrTimeout, c.id, err)
		}
		return c.abandon(err)
	}
}

// timers are reused across calls: a timer per request was a fifth of the
// allocations of a command round trip.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	if !t.Stop() {
		select { // only needed with GODEBUG=asynctimerchan=1
		case <-t.C:
		default:
		}
	}
	timers.Put(t)
}

// Release hands a finished call (Wait returned, or Cancel was called) back
// for reuse by a later Add, saving its allocations on a hot path. The call
// must not be used afterwards. Calling it is optional.
func (c *Call[T]) Release() {
	select {
	case <-c.ch: // never filled after Wait or Cancel; be safe anyway
		return
	default:
	}
	c.p.mu.Lock()
	waiting := c.p.waiting[c.id] == c
	c.p.mu.Unlock()
	if waiting { // not finished: misuse, keep it out of the pool
		return
	}
	c.id = ""
	c.p.free.Put(c)
}

// Cancel gives up on the call (for example when sending it failed).
func (c *Call[T]) Cancel() { _, _ = c.abandon(ErrClosed) }

func (c *Call[T]) abandon(err error) (T, error) {
	p := c.p
	p.mu.Lock()
	if p.waiting[c.id] == c {
		delete(p.waiting, c.id)
		p.remember(c.id, false)
		p.mu.Unlock()
		var zero T
		return zero, err
	}
	p.mu.Unlock()
	// Resolved concurrently: the result is in the channel already.
	r := <-c.ch
	return r.v, r.err
}

func (p *Pending[T]) remember(id string, answered bool) {
	if p.recent == nil {
		p.recent = make([]finished, recentSize)
	}
	p.recent[p.next] = finished{id: id, answered: answered}
	p.next = (p.next + 1) % recentSize
}

func (p *Pending[T]) finish(id string, r result[T]) Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.waiting[id]; ok {
		delete(p.waiting, id)
		p.remember(id, true)
		c.ch <- r
		return Delivered
	}
	for i := range p.recent {
		if p.recent[i].id == id && id != "" {
			if p.recent[i].answered {
				return Duplicate
			}
			return Late
		}
	}
	return Unknown
}

// Resolve hands v to the request waiting for id and says what happened.
func (p *Pending[T]) Resolve(id string, v T) Outcome { return p.finish(id, result[T]{v: v}) }

// Reject fails the request waiting for id with err.
func (p *Pending[T]) Reject(id string, err error) Outcome {
	return p.finish(id, result[T]{err: err})
}

// Only returns the id of the single waiting request, if exactly one waits
// (used to attribute a reply that lost its id).
func (p *Pending[T]) Only() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiting) != 1 {
		return "", false
	}
	for id := range p.waiting {
		return id, true
	}
	return "", false
}

// Len is the number of waiting requests.
func (p *Pending[T]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

// Close fails every waiting request with err (ErrClosed if nil) and makes
// later Adds fail with it too. Typical err: ErrOffline when the carrier went
// away, so callers retry after the device reconnects.
func (p *Pending[T]) Close(err error) {
	if err == nil {
		err = ErrClosed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed == nil {
		p.closed = err
	}
	for id, c := range p.waiting {
		delete(p.waiting, id)
		p.remember(id, false)
		c.ch <- result[T]{err: err}
	}
}
