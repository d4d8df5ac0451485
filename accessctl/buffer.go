package accessctl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/menjin/menjin/transport/backoff"
)

// Overflow is what a Buffer does with a new event when it is full.
type Overflow int

const (
	// Block makes Handle wait for room (or for its context). Nothing is
	// dropped: back-pressure reaches the driver, which then delays its
	// acknowledgement to the device. The default.
	Block Overflow = iota
	// DropNewest refuses the new event with ErrBufferFull. The driver does
	// not acknowledge it, so a device that resends loses nothing.
	DropNewest
	// DropOldest evicts the oldest queued event (never the one being
	// delivered) to make room. The eviction is counted and reported to the
	// OnDrop callback: use it only for events that may be lost, such as
	// heartbeats.
	DropOldest
)

func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// ErrBufferFull is returned by a DropNewest Buffer that has no room.
var ErrBufferFull = errors.New("accessctl: event buffer full")

// BufferStats counts what a Buffer did.
type BufferStats struct {
	Queued    int    // events waiting now, including the one being delivered
	Accepted  uint64 // events Handle took
	Delivered uint64 // events the next sink accepted
	Retried   uint64 // failed deliveries that were tried again
	Dropped   uint64 // events evicted (DropOldest) or refused (DropNewest)
	Failed    uint64 // events given up on: a Permanent error from the next sink
}

// BufferOption configures a Buffer.
type BufferOption func(*Buffer)

// WithCapacity bounds the queue (default 1024).
func WithCapacity(n int) BufferOption {
	return func(b *Buffer) {
		if n > 0 {
			b.capacity = n
		}
	}
}

// WithOverflow chooses the overflow policy (default Block).
func WithOverflow(o Overflow) BufferOption { return func(b *Buffer) { b.overflow = o } }

// WithOnDrop is called with every event the buffer drops or refuses.
func WithOnDrop(f func(Event)) BufferOption { return func(b *Buffer) { b.onDrop = f } }

// WithOnError is called with every failed delivery: err is marked Permanent
// when the buffer gives up on the event, and is retried otherwise.
func WithOnError(f func(e Event, err error)) BufferOption {
	return func(b *Buffer) { b.onError = f }
}

// WithRetry sets the backoff between failed deliveries (default 100 ms
// doubling to 30 s, ±20 %).
func WithRetry(p backoff.Policy) BufferOption { return func(b *Buffer) { b.retry = p } }

// WithDeliveryTimeout bounds each call to the next sink (default 30 s).
func WithDeliveryTimeout(d time.Duration) BufferOption {
	return func(b *Buffer) {
		if d > 0 {
			b.deliveryTimeout = d
		}
	}
}

// Buffer is an EventSink that queues events in memory and delivers them in
// order, one at a time, to the next sink from its own goroutine, so that a
// slow sink does not stall the device that reports. A failed delivery is
// retried with backoff until it succeeds, fails permanently or the buffer is
// closed; events behind it wait, so order is kept.
//
// A Buffer lives in memory: for events that must survive a restart, put a
// durable outbox in front of the platform instead.
type Buffer struct {
	next            EventSink
	capacity        int
	overflow        Overflow
	onDrop          func(Event)
	onError         func(Event, error)
	retry           backoff.Policy
	deliveryTimeout time.Duration

	mu      sync.Mutex
	queue   []Event
	head    int           // index of the oldest event in queue
	changed chan struct{} // closed and replaced whenever the queue changes
	closed  bool
	stats   BufferStats

	ctx    context.Context // the worker's; cancelled by Close when its deadline passes
	cancel context.CancelFunc
	done   chan struct{}
}

// NewBuffer starts a Buffer in front of next. Close it to stop its goroutine.
func NewBuffer(next EventSink, opts ...BufferOption) *Buffer {
	b := &Buffer{
		next:            next,
		capacity:        1024,
		retry:           backoff.Policy{Min: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, Jitter: 0.2},
		deliveryTimeout: 30 * time.Second,
		changed:         make(chan struct{}),
		done:            make(chan struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b
}

func (b *Buffer) len() int { return len(b.queue) - b.head }

// signal wakes everyone waiting for a change. Callers hold mu.
func (b *Buffer) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Handle queues e, applying the overflow policy when the queue is full.
func (b *Buffer) Handle(ctx context.Context, e Event) error {
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return ErrClosed
		}
		if b.len() < b.capacity {
			break
		}
		switch b.overflow {
		case DropNewest:
			b.stats.Dropped++
			b.mu.Unlock()
			if b.onDrop != nil {
				b.onDrop(e)
			}
			return ErrBufferFull
		case DropOldest:
			if b.len() > 1 {
				// queue[head] is being delivered; evict the one after it.
				victim := b.queue[b.head+1]
				copy(b.queue[b.head+1:], b.queue[b.head+2:])
				b.queue = b.queue[:len(b.queue)-1]
				b.stats.Dropped++
				if b.onDrop != nil {
					b.mu.Unlock()
					b.onDrop(victim)
					b.mu.Lock()
				}
				continue
			}
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("accessctl: buffer full: %w", ctx.Err())
		}
		b.mu.Lock()
	}
	if b.head > 0 && b.head == len(b.queue) {
		b.queue, b.head = b.queue[:0], 0
	}
	b.queue = append(b.queue, e)
	b.stats.Accepted++
	b.signal()
	b.mu.Unlock()
	return nil
}

func (b *Buffer) run() {
	defer close(b.done)
	for {
		b.mu.Lock()
		for b.len() == 0 {
			if b.closed {
				b.mu.Unlock()
				return
			}
			wait := b.changed
			b.mu.Unlock()
			select {
			case <-wait:
			case <-b.ctx.Done():
				return
			}
			b.mu.Lock()
		}
		e := b.queue[b.head]
		b.mu.Unlock()

		if !b.deliver(e) {
			return // cancelled by Close
		}
		b.mu.Lock()
		b.queue[b.head] = Event{} // let the GC have the payload
		b.head++
		if b.head == len(b.queue) {
			b.queue, b.head = b.queue[:0], 0
		}
		b.signal()
		b.mu.Unlock()
	}
}

// deliver tries e until it is accepted or fails permanently. It returns
// false only when the buffer is being torn down.
func (b *Buffer) deliver(e Event) bool {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, b.deliveryTimeout)
		err := b.next.Handle(ctx, e)
		cancel()
		if err == nil {
			b.count(func(s *BufferStats) { s.Delivered++ })
			return true
		}
		if b.ctx.Err() != nil {
			return false
		}
		if IsPermanent(err) {
			b.count(func(s *BufferStats) { s.Failed++ })
			if b.onError != nil {
				b.onError(e, err)
			}
			return true
		}
		b.count(func(s *BufferStats) { s.Retried++ })
		if b.onError != nil {
			b.onError(e, err)
		}
		t := time.NewTimer(b.retry.Delay(attempt))
		select {
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return false
		}
	}
}

func (b *Buffer) count(f func(*BufferStats)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

// Stats returns a snapshot of the buffer's counters.
func (b *Buffer) Stats() BufferStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Queued = b.len()
	return s
}

// Close stops accepting events and waits, until ctx is done, for the queue
// to drain. Events still queued when ctx ends are reported in the error and
// passed to OnDrop; the goroutine has exited when Close returns.
func (b *Buffer) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.signal()
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		b.cancel()
		<-b.done
	}
	b.cancel()
	b.mu.Lock()
	left := b.queue[b.head:]
	b.queue, b.head = nil, 0
	b.stats.Dropped += uint64(len(left))
	b.mu.Unlock()
	if len(left) == 0 {
		return nil
	}
	if b.onDrop != nil {
		for _, e := range left {
			b.onDrop(e)
		}
	}
	return fmt.Errorf("%w: %d events undelivered", ErrClosed, len(left))
}
