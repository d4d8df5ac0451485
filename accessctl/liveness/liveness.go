package liveness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Option configures a Tracker.
type Option func(*Tracker)

// WithTimeout is the silence after which an online device is reported
// offline (default 90 s). Drivers pass about three heartbeat intervals of
// their protocol, so that one lost heartbeat is not an outage.
func WithTimeout(d time.Duration) Option {
	return func(t *Tracker) {
		if d > 0 {
			t.timeout = d
		}
	}
}

// WithCheckEvery is how often silence is checked (default Timeout/4). A
// silent device is reported offline at most Timeout + CheckEvery after its
// last frame.
func WithCheckEvery(d time.Duration) Option {
	return func(t *Tracker) {
		if d > 0 {
			t.every = d
		}
	}
}

// WithClock sets the clock (default time.Now, whose monotonic reading makes
// a wall-clock step harmless). A clock that goes back is handled: silence is
// then counted from the moment it went back, so a device is never left
// online for the size of the jump.
func WithClock(now func() time.Time) Option {
	return func(t *Tracker) {
		if now != nil {
			t.now = now
		}
	}
}

// WithEvent lets the driver complete every event (Platform, Site, Info).
func WithEvent(f func(*accessctl.Event)) Option { return func(t *Tracker) { t.decorate = f } }

// WithOnError is called when the sink refuses an event the tracker's own
// goroutine emits (an offline after silence); the tracker tries again at the
// next check.
func WithOnError(f func(accessctl.Event, error)) Option { return func(t *Tracker) { t.onError = f } }

// WithDelivery counts the tracker's deliveries in c, the driver's own
// counter, so that its Stats cover status events as well as passes.
func WithDelivery(c *accessctl.DeliveryCounter) Option { return func(t *Tracker) { t.counter = c } }

// WithOfflineOnClose makes Close report every online device offline
// (default true): once the gateway stops, nobody can vouch for them, and a
// platform must not keep showing them online.
func WithOfflineOnClose(on bool) Option { return func(t *Tracker) { t.offlineOnClose = on } }

// Tracker turns what a driver sees of its devices — frames, closed
// connections, silence — into online and offline events: online at the first
// frame, offline when the connection is lost or after Timeout of silence,
// never two of the same in a row, never a stale online. An event the sink
// refuses does not change the state, so it is emitted again at the next
// frame or check.
type Tracker struct {
	sink           accessctl.EventSink
	timeout, every time.Duration
	now            func() time.Time
	decorate       func(*accessctl.Event)
	onError        func(accessctl.Event, error)
	offlineOnClose bool
	counter        *accessctl.DeliveryCounter

	mu     sync.Mutex
	devs   map[accessctl.DeviceRef]*entry
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

type entry struct {
	mu       sync.Mutex // held while the device's event is emitted: its events stay in order
	ref      accessctl.DeviceRef
	online   bool
	since    time.Time // when online last changed
	lastSeen time.Time
	pending  time.Time // an online (a transition or a new session) whose event the sink refused
	seq      uint64    // transitions so far: with since, it makes event ids unique
}

// New starts a tracker that reports to sink. Close stops it.
func New(sink accessctl.EventSink, opts ...Option) *Tracker {
	t := &Tracker{
		sink: sink, timeout: 90 * time.Second, now: time.Now, offlineOnClose: true,
		devs: map[accessctl.DeviceRef]*entry{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o(t)
	}
	if t.counter == nil {
		t.counter = new(accessctl.DeliveryCounter)
	}
	if t.every == 0 {
		t.every = t.timeout / 4
	}
	go t.loop()
	return t
}

func (t *Tracker) loop() {
	defer close(t.done)
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), t.every)
			_ = t.Check(ctx)
			cancel()
		case <-t.stop:
			return
		}
	}
}

func (t *Tracker) entry(ref accessctl.DeviceRef) (*entry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, accessctl.ErrClosed
	}
	e := t.devs[ref]
	if e == nil {
		e = &entry{ref: ref}
		t.devs[ref] = e
	}
	return e, nil
}

// Seen records a frame of any kind from dev (a heartbeat, an event, an
// answer). The first frame after the device was offline (or unknown) emits
// an online event; the error is the sink's, and the next frame tries again.
func (t *Tracker) Seen(ctx context.Context, dev accessctl.DeviceRef) error {
	return t.frame(ctx, dev, false)
}

// Connected records a new session or registration of dev: it emits an
// online event even when dev was believed online, because a device that
// came back inside the offline window (a reboot, a dropped cable) must be
// heard of — every KindOnline means a (re)connect, so a reconciler resyncs.
// It counts as a frame.
func (t *Tracker) Connected(ctx context.Context, dev accessctl.DeviceRef) error {
	return t.frame(ctx, dev, true)
}

func (t *Tracker) frame(ctx context.Context, dev accessctl.DeviceRef, session bool) error {
	e, err := t.entry(dev)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := t.now()
	e.lastSeen = now
	if e.online && e.pending.IsZero() {
		if !session {
			return nil
		}
		e.pending = now // a new session: its own online event
	}
	return t.online(ctx, e, now)
}

// online emits the pending online event (or a new one at now). Callers hold e.mu.
func (t *Tracker) online(ctx context.Context, e *entry, now time.Time) error {
	since := now
	if !e.pending.IsZero() {
		since = e.pending // the same transition, the same event id
	}
	if err := t.emit(ctx, e, true, since); err != nil {
		e.pending = since
		return err
	}
	e.online, e.since, e.pending = true, since, time.Time{}
	e.seq++
	return nil
}

// Lost reports that the connection to dev closed: it is offline now (once;
// a device already offline emits nothing).
func (t *Tracker) Lost(ctx context.Context, dev accessctl.DeviceRef) error {
	e, err := t.entry(dev)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return t.goOffline(ctx, e)
}

// goOffline emits offline for an online device. Callers hold e.mu.
func (t *Tracker) goOffline(ctx context.Context, e *entry) error {
	if !e.pending.IsZero() {
		// an online the sink never took is moot now: counted, not silent
		e.pending = time.Time{}
		t.counter.Drop()
	}
	if !e.online {
		return nil
	}
	if err := t.emit(ctx, e, false, e.since); err != nil {
		return err
	}
	e.online, e.since = false, t.now()
	e.seq++
	return nil
}

// Check reports offline every online device silent for Timeout or more. The
// tracker's goroutine calls it every CheckEvery; tests with an injected
// clock call it directly.
func (t *Tracker) Check(ctx context.Context) error {
	t.mu.Lock()
	es := make([]*entry, 0, len(t.devs))
	for _, e := range t.devs {
		es = append(es, e)
	}
	t.mu.Unlock()
	var errs []error
	for _, e := range es {
		if !e.mu.TryLock() {
			continue // busy with a frame or an event: not silent
		}
		now := t.now()
		if now.Before(e.lastSeen) {
			e.lastSeen = now // the clock went back: count silence from here
		}
		if e.online && now.Sub(e.lastSeen) >= t.timeout {
			if err := t.goOffline(ctx, e); err != nil {
				errs = append(errs, err)
			}
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Status is what the tracker knows of dev, for a driver's Device.Status.
func (t *Tracker) Status(dev accessctl.DeviceRef) (accessctl.Status, bool) {
	t.mu.Lock()
	e := t.devs[dev]
	t.mu.Unlock()
	if e == nil {
		return accessctl.Status{Device: dev}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return accessctl.Status{Device: dev, Online: e.online, Since: e.since, LastSeen: e.lastSeen}, true
}

// Forget stops tracking dev without an event (the device was removed).
func (t *Tracker) Forget(dev accessctl.DeviceRef) {
	t.mu.Lock()
	delete(t.devs, dev)
	t.mu.Unlock()
}

// Close stops the tracker's goroutine and, unless WithOfflineOnClose(false),
// reports every online device offline. Close the tracker before the sink.
func (t *Tracker) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return accessctl.ErrClosed
	}
	t.closed = true
	es := make([]*entry, 0, len(t.devs))
	for _, e := range t.devs {
		es = append(es, e)
	}
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	if !t.offlineOnClose {
		return nil
	}
	var errs []error
	for _, e := range es {
		e.mu.Lock()
		if err := t.goOffline(ctx, e); err != nil {
			t.counter.Drop() // nobody retries after Close
			errs = append(errs, err)
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (t *Tracker) emit(ctx context.Context, e *entry, online bool, since time.Time) error {
	now := t.now()
	kind := accessctl.KindOffline
	if online {
		kind = accessctl.KindOnline
	}
	st := accessctl.Status{Device: e.ref, Online: online, Since: now, LastSeen: e.lastSeen}
	if online {
		st.Since = since
	}
	ev := accessctl.Event{
		ID:         EventID(e.ref, kind, since, e.seq+1),
		Kind:       kind,
		Device:     e.ref,
		OccurredAt: now,
		TimeSource: accessctl.TimeReceipt,
		ReceivedAt: now,
		Status:     &st,
	}
	if t.decorate != nil {
		t.decorate(&ev)
	}
	err := t.counter.Deliver(ctx, t.sink, ev)
	if err != nil && t.onError != nil {
		t.onError(ev, err)
	}
	return err
}

// EventID is the id of every status event, in every driver:
// "<device>/<kind>/<unix-nanos>.<n>", where device is the DeviceRef's
// String, unix-nanos the start of the online period (for offline: of the
// period that ended) and n the tracker's count of events for the device. It
// is stable while the sink refuses the event and unique per (re)connect even
// when the clock does not move between two of them.
func EventID(dev accessctl.DeviceRef, kind accessctl.EventKind, since time.Time, n uint64) string {
	return fmt.Sprintf("%s/%s/%d.%d", dev, kind, since.UnixNano(), n)
}

// Stats counts the tracker's deliveries (into the WithDelivery counter when
// one was given, so a driver's Stats already include them).
func (t *Tracker) Stats() accessctl.DeliveryStats { return t.counter.Stats() }
