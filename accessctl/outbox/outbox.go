package outbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/internal/broadcast"
)

// ErrFull is returned by Handle when the outbox holds its maximum of events
// or bytes. The event was not stored: a driver that gets it does not
// acknowledge the event, so the device keeps it and reports it again.
// errors.Is(err, accessctl.ErrBufferFull) is true as well.
var ErrFull = fmt.Errorf("outbox: full (%w)", accessctl.ErrBufferFull)

// ErrTooLarge is returned by Handle for an event that alone exceeds
// WithMaxBytes: no amount of delivery makes room for it. It is marked
// accessctl.Permanent.
var ErrTooLarge = errors.New("outbox: event larger than the byte bound")

// ErrNotFound is returned by Replay and Discard for a dead letter that is
// not there.
var ErrNotFound = fmt.Errorf("outbox: dead letter %w", accessctl.ErrNotFound)

// FileName is the database file Open creates in its directory. The reconciler
// uses the same name: share one store.DB (its Bolt) rather than opening it twice.
const FileName = store.FileName

// Bucket names. The reconciler keeps its state in its own bucket of the same
// file, so one *bbolt.DB serves both.
var (
	bucketRoot  = []byte("outbox")
	bucketQueue = []byte("queue")
	bucketDead  = []byte("dead")
)

// Stats counts what an Outbox holds and did since it was opened.
type Stats struct {
	Queued       int    // events stored and not yet delivered nor dead-lettered
	Dead         int    // events in the dead-letter area
	Bytes        int64  // bytes of stored events (queued and dead), the quantity WithMaxBytes bounds
	Appended     uint64 // events Handle made durable
	Delivered    uint64 // events the next sink accepted
	Retried      uint64 // failed deliveries that will be tried again
	DeadLettered uint64 // events moved to the dead-letter area
	Refused      uint64 // events refused with ErrFull
	Commits      uint64 // write transactions; Appended/Commits is the group-commit factor
}

// DeadLetter is an event the next sink refused for good (or that failed
// WithMaxAttempts times in a row).
type DeadLetter struct {
	Seq      uint64          // its key in the dead-letter area; pass it to Replay or Discard
	Event    accessctl.Event // as it was stored
	Err      string          // the last delivery error
	At       time.Time       // when it was dead-lettered
	Attempts int             // deliveries tried
}

// Outbox is a durable EventSink: Handle stores the event on disk (fsync'd)
// before it returns nil, and goroutines deliver the stored events to the next
// sink, in order per device, until it accepts them.
type Outbox struct {
	db    *bbolt.DB
	ownDB bool
	next  accessctl.EventSink
	cfg   config

	appends    chan *appendReq
	lastBatch  int           // appends in the last commit; the committer's goroutine only
	kick       chan struct{} // cap 1: ops are waiting for the committer
	wake       chan struct{} // cap Concurrency: a lane became ready
	stopCommit chan struct{}
	commitDone chan struct{}

	workCtx    context.Context
	cancelWork context.CancelFunc
	workers    sync.WaitGroup
	handling   sync.WaitGroup

	mu       sync.Mutex
	closed   bool // Handle refuses
	stopping bool // workers exit
	lanes    map[string]*lane
	ready    []*lane
	ops      []op
	opsSince time.Time        // when the oldest of ops was queued
	changed  broadcast.Signal // when Queued drops
	onDiskN  int              // records in queue + dead
	reserveN int              // appends waiting for their commit
	reserveB int64
	cacheB   int64 // bytes of queued events kept decoded in memory
	stats    Stats
}

// lane is the ordered queue of one device's events.
type lane struct {
	key       string
	items     []item // in sequence order
	scheduled bool   // in ready, owned by a worker, or waiting for its backoff timer
	timer     *time.Timer
	attempt   int // failed deliveries of the head event in a row
}

type item struct {
	seq  uint64
	size int
	ev   *accessctl.Event // the event as Handle got it, while the cache has room; else read from disk
}

type appendReq struct {
	lane string
	ev   *accessctl.Event
	val  []byte
	done chan error // cap 1
}

type opKind int

const (
	opDelete opKind = iota
	opDead
	opReplay
	opDiscard
)

type op struct {
	kind opKind
	it   item
	dead deadRecord
	seqs []uint64
	done chan error // replay, discard
}

type deadRecord struct {
	Err      string          `json:"error"`
	At       time.Time       `json:"at"`
	Attempts int             `json:"attempts"`
	Lane     string          `json:"lane"`
	Event    json.RawMessage `json:"event"`
}

// Open opens (or creates) the outbox database FileName in dir and starts
// delivering what it holds to next. Close releases the file. Use DB to share
// the file with a reconciler.
func Open(dir string, next accessctl.EventSink, opts ...Option) (*Outbox, error) {
	sdb, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o, err := New(sdb.Bolt(), next, opts...)
	if err != nil {
		_ = sdb.Close()
		return nil, err
	}
	o.ownDB = true
	return o, nil
}

// New starts an outbox on an open database that the caller owns (and closes
// after the outbox), usually the host's one state file: outbox.New(db.Bolt(),
// next) with db from store.Open, shared with the reconciler and the drivers'
// ledger. Only one Outbox may use a database at a time.
func New(db *bbolt.DB, next accessctl.EventSink, opts ...Option) (*Outbox, error) {
	if next == nil {
		return nil, fmt.Errorf("outbox: %w: nil next sink", accessctl.ErrInvalid)
	}
	cfg := defaults()
	for _, opt := range opts {
		opt(&cfg)
	}
	o := &Outbox{
		db:         db,
		next:       next,
		cfg:        cfg,
		appends:    make(chan *appendReq, cfg.maxBatch),
		kick:       make(chan struct{}, 1),
		wake:       make(chan struct{}, cfg.concurrency),
		stopCommit: make(chan struct{}),
		commitDone: make(chan struct{}),
		lanes:      map[string]*lane{},
	}
	if err := o.load(); err != nil {
		return nil, err
	}
	o.workCtx, o.cancelWork = context.WithCancel(context.Background())
	go o.commitLoop()
	o.workers.Add(cfg.concurrency)
	for range cfg.concurrency {
		go o.worker()
	}
	return o, nil
}

// load creates the buckets and rebuilds the lanes from what is on disk.
func (o *Outbox) load() error {
	err := o.db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(bucketQueue); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketDead)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: init: %w", err)
	}
	return o.db.View(func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		err := root.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			key, _, err := splitRecord(v)
			if err != nil {
				key = "" // a damaged record still gets delivered (and dead-lettered) in lane ""
			}
			l := o.lane(key)
			l.items = append(l.items, item{seq: binary.BigEndian.Uint64(k), size: len(v)})
			o.onDiskN++
			o.stats.Queued++
			o.stats.Bytes += int64(len(v))
			return nil
		})
		if err != nil {
			return err
		}
		err = root.Bucket(bucketDead).ForEach(func(_, v []byte) error {
			o.onDiskN++
			o.stats.Dead++
			o.stats.Bytes += int64(len(v))
			return nil
		})
		for _, l := range o.lanes {
			o.pushReady(l)
		}
		return err
	})
}

// Handle stores e durably and returns nil once it is on disk. An event
// without an ID gets one, stored with it. Handle returns ErrFull when the
// bound is reached and accessctl.ErrClosed after Close.
//
// As with accessctl.Buffer, the outbox may deliver the very values e points
// to (Pass, Status, Raw, ...): do not modify them after Handle returns.
func (o *Outbox) Handle(ctx context.Context, e accessctl.Event) error {
	if e.ID == "" {
		e.ID = "ob-" + rand.Text()
	}
	key := laneKey(e.Device)
	body, err := json.Marshal(e)
	if err != nil {
		return accessctl.Permanent(fmt.Errorf("outbox: encode event %s: %w", e.ID, err))
	}
	val := joinRecord(key, body)

	if int64(len(val)) > o.cfg.maxBytes {
		return accessctl.Permanent(fmt.Errorf("%w: %s is %d bytes", ErrTooLarge, e.ID, len(val)))
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return accessctl.ErrClosed
	}
	if o.onDiskN+o.reserveN+1 > o.cfg.maxEvents || o.stats.Bytes+o.reserveB+int64(len(val)) > o.cfg.maxBytes {
		o.stats.Refused++
		o.mu.Unlock()
		return ErrFull
	}
	o.reserveN++
	o.reserveB += int64(len(val))
	o.handling.Add(1)
	o.mu.Unlock()
	defer o.handling.Done()

	r := &appendReq{lane: key, ev: &e, val: val, done: make(chan error, 1)}
	select {
	case o.appends <- r: // the committer drains it every commit
	case <-ctx.Done():
		o.mu.Lock()
		o.reserveN--
		o.reserveB -= int64(len(val))
		o.mu.Unlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The event may still be committed and delivered; the driver does
		// not acknowledge it, and the device's resend carries the same ID.
		return ctx.Err()
	}
}

// commitLoop is the only writer: it groups every append waiting when a
// commit starts into one transaction (one fsync), along with the deletes of
// delivered events.
func (o *Outbox) commitLoop() {
	defer close(o.commitDone)
	for {
		select {
		case r := <-o.appends:
			o.commit(r)
		case <-o.kick:
			o.commit(o.linger())
		case <-o.stopCommit:
			o.commit(nil)
			return
		}
	}
}

func (o *Outbox) drain(reqs []*appendReq) []*appendReq {
	for len(reqs) < o.cfg.maxBatch {
		select {
		case r := <-o.appends:
			reqs = append(reqs, r)
		default:
			return reqs
		}
	}
	return reqs
}

// linger holds back a commit that only deletes delivered events for a
// moment, so that it rides along with the next append's commit instead of
// costing an fsync of its own. Dead letters, replays and discards do not
// wait: the host looks for them.
func (o *Outbox) linger() *appendReq {
	o.mu.Lock()
	urgent := false
	for _, op := range o.ops {
		if op.done != nil || op.kind == opDead {
			urgent = true
			break
		}
	}
	o.mu.Unlock()
	if urgent {
		return nil
	}
	t := time.NewTimer(o.cfg.linger)
	defer t.Stop()
	select {
	case r := <-o.appends:
		return r
	case <-t.C:
	case <-o.stopCommit:
		// The outer loop sees stopCommit too and makes the final commit.
	}
	return nil
}

func (o *Outbox) commit(first *appendReq) {
	var reqs []*appendReq
	if first != nil {
		reqs = append(reqs, first)
	}
	reqs = o.drain(reqs)
	if target := min(o.cfg.maxBatch, len(reqs)+o.lastBatch); len(reqs) > 0 && o.lastBatch > 1 && len(reqs) < target {
		// The producers the last commit answered are coming back with their
		// next events: wait a moment for them, so that one fsync serves
		// them and those already waiting, instead of alternating between
		// two half-full commits.
		t := time.NewTimer(o.cfg.gather)
	gather:
		for len(reqs) < target {
			select {
			case r := <-o.appends:
				reqs = append(reqs, r)
			case <-t.C:
				break gather
			}
		}
		t.Stop()
	}
	o.lastBatch = len(reqs)
	o.mu.Lock()
	var ops []op
	// Deletes ride along with appends only when there are many or they have
	// waited: deleting in larger runs dirties fewer pages per event.
	if first == nil || len(o.ops) >= o.cfg.maxBatch || time.Since(o.opsSince) >= o.cfg.linger {
		ops = o.ops
		o.ops = nil
	}
	o.mu.Unlock()
	if len(reqs) == 0 && len(ops) == 0 {
		return
	}

	seqs := make([]uint64, len(reqs))
	type laneAdd struct {
		lane string
		it   item
	}
	var (
		adds           []laneAdd // replayed events
		qFreedN, deadN int       // queue records deleted, dead records added
		qFreedB, deadB int64
		unDeadN        int // dead records removed (replayed or discarded)
		unDeadB        int64
	)
	err := o.db.Update(func(tx *bbolt.Tx) error {
		adds, qFreedN, qFreedB, deadN, deadB, unDeadN, unDeadB = nil, 0, 0, 0, 0, 0, 0
		root := tx.Bucket(bucketRoot)
		q, dead := root.Bucket(bucketQueue), root.Bucket(bucketDead)
		for i, r := range reqs {
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if err := q.Put(seqKey(seq), r.val); err != nil {
				return err
			}
			seqs[i] = seq
		}
		for i := range ops {
			op := &ops[i]
			switch op.kind {
			case opDelete:
				if err := q.Delete(seqKey(op.it.seq)); err != nil {
					return err
				}
				qFreedN++
				qFreedB += int64(op.it.size)
			case opDead:
				v := q.Get(seqKey(op.it.seq))
				if v == nil {
					continue
				}
				lk, body, err := splitRecord(v)
				if err != nil {
					body = v
				}
				rec := op.dead
				rec.Lane, rec.Event = lk, json.RawMessage(append([]byte(nil), body...))
				if !json.Valid(rec.Event) {
					rec.Event, _ = json.Marshal(string(body)) // keep the damaged bytes, readable
				}
				dv, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				if err := dead.Put(seqKey(op.it.seq), dv); err != nil {
					return err
				}
				if err := q.Delete(seqKey(op.it.seq)); err != nil {
					return err
				}
				qFreedN++
				qFreedB += int64(len(v))
				deadN++
				deadB += int64(len(dv))
			case opReplay, opDiscard:
				for _, s := range op.seqs {
					dv := dead.Get(seqKey(s))
					if dv == nil {
						return fmt.Errorf("%w: %d", ErrNotFound, s)
					}
					if op.kind == opReplay {
						var rec deadRecord
						if err := json.Unmarshal(dv, &rec); err != nil {
							return fmt.Errorf("outbox: dead letter %d: %w", s, err)
						}
						seq, err := q.NextSequence()
						if err != nil {
							return err
						}
						v := joinRecord(rec.Lane, rec.Event)
						if err := q.Put(seqKey(seq), v); err != nil {
							return err
						}
						adds = append(adds, laneAdd{rec.Lane, item{seq: seq, size: len(v)}})
					}
					if err := dead.Delete(seqKey(s)); err != nil {
						return err
					}
					unDeadN++
					unDeadB += int64(len(dv))
				}
			}
		}
		return nil
	})

	o.mu.Lock()
	if err != nil {
		o.reserveN -= len(reqs)
		for _, r := range reqs {
			o.reserveB -= int64(len(r.val))
		}
		// Deletes and dead-letter moves stay pending for the next commit;
		// replays and discards report the failure to their caller.
		for _, op := range ops {
			if op.done == nil {
				o.ops = append(o.ops, op)
			}
		}
		o.mu.Unlock()
		err = fmt.Errorf("outbox: commit: %w", err)
		for _, r := range reqs {
			r.done <- err
		}
		for _, op := range ops {
			if op.done != nil {
				op.done <- err
			}
		}
		return
	}
	o.stats.Commits++
	for i, r := range reqs {
		size := len(r.val)
		o.reserveN--
		o.reserveB -= int64(size)
		o.onDiskN++
		o.stats.Bytes += int64(size)
		o.stats.Appended++
		it := item{seq: seqs[i], size: size}
		if o.cacheB+int64(size) <= o.cfg.cacheBytes {
			it.ev = r.ev
			o.cacheB += int64(size)
		}
		o.addToLane(r.lane, it)
	}
	for _, a := range adds {
		o.onDiskN++
		o.stats.Bytes += int64(a.it.size)
		o.addToLane(a.lane, a.it)
	}
	o.onDiskN += deadN - qFreedN - unDeadN
	o.stats.Bytes += deadB - qFreedB - unDeadB
	o.stats.Dead += deadN - unDeadN
	o.stats.DeadLettered += uint64(deadN)
	o.mu.Unlock()
	for _, r := range reqs {
		r.done <- nil
	}
	for _, op := range ops {
		if op.done != nil {
			op.done <- nil
		}
	}
}

// addToLane queues a committed event for delivery. Callers hold mu.
func (o *Outbox) addToLane(key string, it item) {
	l := o.lane(key)
	if n := len(l.items); n == 0 || l.items[n-1].seq < it.seq {
		l.items = append(l.items, it)
	} else {
		i := sort.Search(n, func(i int) bool { return l.items[i].seq > it.seq })
		l.items = append(l.items, item{})
		copy(l.items[i+1:], l.items[i:])
		l.items[i] = it
	}
	o.stats.Queued++
	o.pushReady(l)
}

// lane returns the lane of key, creating it. Callers hold mu.
func (o *Outbox) lane(key string) *lane {
	l := o.lanes[key]
	if l == nil {
		l = &lane{key: key}
		o.lanes[key] = l
	}
	return l
}

// pushReady hands l to a worker unless it is already scheduled. Callers
// hold mu.
func (o *Outbox) pushReady(l *lane) {
	if l.scheduled || len(l.items) == 0 || o.stopping {
		return
	}
	l.scheduled = true
	o.ready = append(o.ready, l)
	select {
	case o.wake <- struct{}{}:
	default: // enough wake-ups pending; busy workers look at ready before they sleep
	}
}

func (o *Outbox) worker() {
	defer o.workers.Done()
	for {
		l := o.nextLane()
		if l == nil {
			return
		}
		o.serve(l)
	}
}

func (o *Outbox) nextLane() *lane {
	o.mu.Lock()
	for {
		if o.stopping {
			o.mu.Unlock()
			return nil
		}
		if len(o.ready) > 0 {
			l := o.ready[0]
			o.ready[0] = nil
			o.ready = o.ready[1:]
			o.mu.Unlock()
			return l
		}
		o.mu.Unlock()
		select {
		case <-o.wake:
		case <-o.workCtx.Done():
			return nil
		}
		o.mu.Lock()
	}
}

// loaded is a stored event read back for delivery.
type loaded struct {
	it  item
	e   accessctl.Event
	err error // the record is damaged
}

// serve delivers l's events in order until the lane is empty, a delivery
// fails (the lane then waits for its backoff) or the outbox stops.
func (o *Outbox) serve(l *lane) {
	for {
		o.mu.Lock()
		n := min(len(l.items), o.cfg.readAhead)
		if n == 0 || o.stopping {
			l.scheduled = false
			if len(l.items) == 0 {
				delete(o.lanes, l.key)
			}
			o.mu.Unlock()
			return
		}
		batch := append([]item(nil), l.items[:n]...)
		o.mu.Unlock()

		evs, err := o.read(batch)
		if err != nil {
			o.retryLater(l, err)
			return
		}
		for _, ev := range evs {
			if ev.err != nil {
				o.finish(l, ev, ev.err)
				continue
			}
			ctx, cancel := context.WithTimeout(o.workCtx, o.cfg.deliveryTimeout)
			err := o.next.Handle(ctx, ev.e)
			cancel()
			if err == nil {
				o.finish(l, ev, nil)
				continue
			}
			if o.workCtx.Err() != nil {
				o.mu.Lock()
				l.scheduled = false
				o.mu.Unlock()
				return
			}
			o.cfg.log.Debug("outbox: delivery failed; will retry", "event", ev.e.ID, "err", err)
			if o.cfg.onError != nil {
				o.cfg.onError(ev.e, err)
			}
			o.mu.Lock()
			l.attempt++
			giveUp := accessctl.IsPermanent(err) || (o.cfg.maxAttempts > 0 && l.attempt >= o.cfg.maxAttempts)
			o.mu.Unlock()
			if giveUp {
				o.finish(l, ev, err)
				continue
			}
			o.retryLater(l, err)
			return
		}
	}
}

// read loads stored events in one read transaction.
func (o *Outbox) read(items []item) ([]loaded, error) {
	out := make([]loaded, len(items))
	cold := false
	for i, it := range items {
		out[i].it = it
		if it.ev != nil {
			out[i].e = *it.ev
		} else {
			cold = true
		}
	}
	if !cold {
		return out, nil
	}
	err := o.db.View(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketRoot).Bucket(bucketQueue)
		for i, it := range items {
			if it.ev != nil {
				continue
			}
			v := q.Get(seqKey(it.seq))
			ev := &out[i]
			if v == nil {
				ev.err = accessctl.Permanent(fmt.Errorf("outbox: record %d vanished", it.seq))
			} else if _, body, err := splitRecord(v); err != nil {
				ev.err = accessctl.Permanent(err)
			} else if err := json.Unmarshal(body, &ev.e); err != nil {
				ev.err = accessctl.Permanent(fmt.Errorf("outbox: record %d: %w", it.seq, err))
			}
		}
		return nil
	})
	return out, err
}

// finish removes a delivered (err nil) or given-up event from its lane and
// queues the matching write for the committer.
func (o *Outbox) finish(l *lane, ev loaded, err error) {
	o.mu.Lock()
	for i, it := range l.items {
		if it.seq == ev.it.seq {
			l.items = append(l.items[:i], l.items[i+1:]...)
			if it.ev != nil {
				o.cacheB -= int64(it.size)
			}
			break
		}
	}
	attempts := l.attempt
	l.attempt = 0
	o.stats.Queued--
	if len(o.ops) == 0 {
		o.opsSince = time.Now()
	}
	if err == nil {
		o.stats.Delivered++
		o.ops = append(o.ops, op{kind: opDelete, it: ev.it})
	} else {
		if attempts == 0 {
			attempts = 1
		}
		o.ops = append(o.ops, op{kind: opDead, it: ev.it, dead: deadRecord{Err: err.Error(), At: o.cfg.now(), Attempts: attempts}})
	}
	o.changed.Notify()
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
	if err != nil {
		o.cfg.log.Warn("outbox: event moved to the dead-letter area", "event", ev.e.ID, "kind", ev.e.Kind, "attempts", attempts, "err", err)
	}
	if err != nil && o.cfg.onDead != nil {
		o.cfg.onDead(DeadLetter{Seq: ev.it.seq, Event: ev.e, Err: err.Error(), At: o.cfg.now(), Attempts: attempts})
	}
}

// retryLater parks l until its backoff delay has passed.
func (o *Outbox) retryLater(l *lane, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Retried++
	if o.stopping {
		l.scheduled = false
		return
	}
	delay := o.cfg.retry.Delay(max(0, l.attempt-1))
	l.timer = time.AfterFunc(delay, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		l.timer = nil
		if o.stopping {
			l.scheduled = false
			return
		}
		l.scheduled = false
		o.pushReady(l)
	})
}

// Stats returns a snapshot of the counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

// DB is the database the outbox uses, for a reconciler to share.
func (o *Outbox) DB() *bbolt.DB { return o.db }

// Dead lists up to limit dead letters (all when limit <= 0), oldest first.
func (o *Outbox) Dead(ctx context.Context, limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := o.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketRoot).Bucket(bucketDead).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if limit > 0 && len(out) >= limit {
				return nil
			}
			var rec deadRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("outbox: dead letter %x: %w", k, err)
			}
			d := DeadLetter{Seq: binary.BigEndian.Uint64(k), Err: rec.Err, At: rec.At, Attempts: rec.Attempts}
			if err := json.Unmarshal(rec.Event, &d.Event); err != nil {
				d.Event = accessctl.Event{Raw: append(json.RawMessage(nil), rec.Event...)}
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// Replay moves dead letters back to the queue, behind the events their
// device already has queued, for another round of delivery (after the
// host fixed what made the sink refuse them). It is all or nothing.
func (o *Outbox) Replay(ctx context.Context, seqs ...uint64) error {
	return o.deadOp(ctx, opReplay, seqs)
}

// Discard deletes dead letters for good.
func (o *Outbox) Discard(ctx context.Context, seqs ...uint64) error {
	return o.deadOp(ctx, opDiscard, seqs)
}

func (o *Outbox) deadOp(ctx context.Context, kind opKind, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	done := make(chan error, 1)
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return accessctl.ErrClosed
	}
	if len(o.ops) == 0 {
		o.opsSince = time.Now()
	}
	o.ops = append(o.ops, op{kind: kind, seqs: append([]uint64(nil), seqs...), done: done})
	o.handling.Add(1)
	o.mu.Unlock()
	defer o.handling.Done()
	select {
	case o.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, delivers what is queued until ctx is done,
// then stops every goroutine and, for an outbox made by Open, closes the
// file. Events still queued stay on disk and are delivered after the next
// Open: Close loses nothing.
func (o *Outbox) Close(ctx context.Context) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return accessctl.ErrClosed
	}
	o.closed = true
	o.mu.Unlock()
	o.handling.Wait() // every accepted append has its answer

	// Deliver what is queued while ctx lets us; what is left stays on disk.
	_ = o.changed.Wait(ctx, &o.mu, func() bool { return o.stats.Queued == 0 })

	o.mu.Lock()
	o.stopping = true
	for _, l := range o.lanes {
		if l.timer != nil && l.timer.Stop() {
			l.timer = nil
			l.scheduled = false
		}
	}
	o.ready = nil
	o.mu.Unlock()
	o.cancelWork()
	o.workers.Wait()
	close(o.stopCommit)
	<-o.commitDone
	if o.ownDB {
		if err := o.db.Close(); err != nil {
			return fmt.Errorf("outbox: close: %w", err)
		}
	}
	return nil
}

// laneKey is the delivery lane of a device: events of one device are
// delivered in order, devices independently.
func laneKey(d accessctl.DeviceRef) string { return d.Platform + "\x00" + d.ID }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// joinRecord prefixes the event with its lane, so that Open rebuilds the
// lanes without decoding every event.
func joinRecord(lane string, body []byte) []byte {
	v := make([]byte, 0, binary.MaxVarintLen64+len(lane)+len(body))
	v = binary.AppendUvarint(v, uint64(len(lane)))
	v = append(v, lane...)
	return append(v, body...)
}

var errDamaged = errors.New("outbox: damaged record")

func splitRecord(v []byte) (lane string, body []byte, err error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)-k) {
		return "", nil, errDamaged
	}
	return string(v[k : k+int(n)]), v[k+int(n):], nil
}
