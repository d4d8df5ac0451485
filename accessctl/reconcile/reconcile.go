package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/internal/broadcast"
)

// FileName is the database file Open creates in its directory. The outbox
// uses the same name: share one store.DB (its Bolt) rather than opening it twice.
const FileName = store.FileName

var (
	bucketRoot   = []byte("reconcile")
	bucketWant   = []byte("want")
	bucketLedger = []byte("ledger")
	bucketStatus = []byte("status")
	keyRef       = []byte("ref")
	keyDeclared  = []byte("declared") // in a device's bucket: its desired state is complete
)

// Stats counts what a Reconciler did since it was opened, and the states of
// the (person, device) pairs it tracks now.
type Stats struct {
	Devices  int                         // devices with state
	Attached int                         // devices with a PermissionSync attached
	Puts     uint64                      // PutGrant calls that succeeded
	Removes  uint64                      // RemoveGrant calls that succeeded
	Failures uint64                      // calls that failed
	Resyncs  uint64                      // full resyncs done
	Commits  uint64                      // write transactions (group commits)
	States   map[accessctl.SyncState]int // pairs per state
}

// Reconciler keeps what devices hold equal to what the host wants. The host
// states desired grants (Put, Set, Remove); the reconciler diffs them
// against each device — its ListGrants where the device can list, its own
// ledger of what it pushed where it cannot — and pushes the difference
// through the device's PermissionSync, retrying with backoff. State lives in
// bbolt, so a restart resumes where the last process stopped.
type Reconciler struct {
	db    *bbolt.DB
	ownDB bool
	cfg   config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	kick       chan struct{} // cap 1: writes are queued
	stopCommit chan struct{}
	commitDone chan struct{}

	mu        sync.Mutex
	closed    bool
	devices   map[string]*device
	changed   broadcast.Signal // on every state change
	stats     Stats
	pending   []wop  // writes not yet committed, in order
	gen       uint64 // generation of the last queued write
	committed uint64 // generation on disk
	commitErr error  // the last commit's failure, for gens up to failedGen
	failedGen uint64
	written   broadcast.Signal // after every commit
}

type device struct {
	ref    accessctl.DeviceRef
	key    string
	ps     accessctl.PermissionSync // nil until Attach
	lister accessctl.GrantLister    // nil when the device cannot list
	getter accessctl.GrantGetter    // nil when it cannot read a person back

	want   map[string]string // person id → hash of the wanted grant
	ledger map[string]ledgerEntry
	status map[string]*statusRec

	dirty  map[string]struct{} // persons to look at
	retry  map[string]struct{} // failed, waiting for the backoff
	resync bool
	// declared: the host said the desired state of this device is complete
	// (Set, Declare). Until then persons it holds that nobody asked for are
	// left alone: an empty desired state is not yet loaded, not "nobody".
	declared bool
	busy     bool // a round or a resync is running
	hold     bool // waiting for the backoff timer
	offline  bool
	fails    int // rounds in a row with failures, for the backoff
	timer    *time.Timer
	wake     chan struct{} // cap 1
	done     chan struct{} // closed when the worker exits
}

// ledgerEntry is what the reconciler knows a device may hold.
type ledgerEntry struct {
	Person accessctl.PersonRef `json:"person"`
	Hash   string              `json:"hash,omitempty"`  // the version pushed; "" unknown
	Maybe  bool                `json:"maybe,omitempty"` // not confirmed: the call's outcome is unknown
}

// statusRec is a SyncStatus plus the version it is about.
type statusRec struct {
	accessctl.SyncStatus
	Hash string `json:"hash,omitempty"`
}

// Open opens (or creates) FileName in dir. Close closes the file.
func Open(dir string, opts ...Option) (*Reconciler, error) {
	sdb, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	r, err := New(sdb.Bolt(), opts...)
	if err != nil {
		_ = sdb.Close()
		return nil, err
	}
	r.ownDB = true
	return r, nil
}

// New makes a reconciler on an open database the caller owns: the host's
// state file (reconcile.New(db.Bolt()) with db from store.Open, shared with
// the outbox and the drivers' ledger) or the outbox's (outbox.DB()). It
// loads the state stored there; devices start reconciling when they are
// attached.
func New(db *bbolt.DB, opts ...Option) (*Reconciler, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	r := &Reconciler{
		db: db, cfg: cfg, devices: map[string]*device{},
		kick: make(chan struct{}, 1), stopCommit: make(chan struct{}), commitDone: make(chan struct{}),
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.commitLoop()
	return r, nil
}

func (r *Reconciler) load() error {
	if err := r.db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRoot)
		return err
	}); err != nil {
		return fmt.Errorf("reconcile: init: %w", err)
	}
	return r.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRoot).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(bucketRoot).Bucket(k)
			var ref accessctl.DeviceRef
			if err := json.Unmarshal(b.Get(keyRef), &ref); err != nil {
				return fmt.Errorf("reconcile: device %q: %w", k, err)
			}
			d := r.device(ref)
			d.declared = b.Get(keyDeclared) != nil
			if w := b.Bucket(bucketWant); w != nil {
				_ = w.ForEach(func(id, v []byte) error {
					d.want[string(id)] = hex.EncodeToString(v[:min(len(v), sha256.Size)])
					d.dirty[string(id)] = struct{}{}
					return nil
				})
			}
			if l := b.Bucket(bucketLedger); l != nil {
				if err := l.ForEach(func(id, v []byte) error {
					var e ledgerEntry
					if err := json.Unmarshal(v, &e); err != nil {
						return fmt.Errorf("reconcile: ledger %s/%s: %w", ref, id, err)
					}
					d.ledger[string(id)] = e
					d.dirty[string(id)] = struct{}{}
					return nil
				}); err != nil {
					return err
				}
			}
			if s := b.Bucket(bucketStatus); s != nil {
				return s.ForEach(func(id, v []byte) error {
					st := &statusRec{}
					if err := json.Unmarshal(v, st); err != nil {
						return fmt.Errorf("reconcile: status %s/%s: %w", ref, id, err)
					}
					if st.State == accessctl.SyncInFlight {
						// The process stopped during the call: its outcome is
						// unknown until the device is looked at again.
						st.State = accessctl.SyncPending
					}
					d.status[string(id)] = st
					r.stats.States[st.State]++
					return nil
				})
			}
			return nil
		})
	})
}

// device returns the state of ref, creating it. Callers hold mu (or run
// before the reconciler is shared).
func (r *Reconciler) device(ref accessctl.DeviceRef) *device {
	if r.stats.States == nil {
		r.stats.States = map[accessctl.SyncState]int{}
	}
	key := deviceKey(ref)
	d := r.devices[key]
	if d == nil {
		d = &device{
			ref: ref, key: key,
			want: map[string]string{}, ledger: map[string]ledgerEntry{}, status: map[string]*statusRec{},
			dirty: map[string]struct{}{}, retry: map[string]struct{}{},
			wake: make(chan struct{}, 1),
		}
		r.devices[key] = d
	}
	return d
}

// lookup finds a device by its reference, or by its ID alone when the
// event's reference lacks the platform the host used.
func (r *Reconciler) lookup(ref accessctl.DeviceRef) *device {
	if d := r.devices[deviceKey(ref)]; d != nil {
		return d
	}
	var found *device
	for _, d := range r.devices {
		if d.ref.ID == ref.ID {
			if found != nil {
				return nil // ambiguous
			}
			found = d
		}
	}
	return found
}

// Attach starts reconciling the device ref through ps, beginning with a
// full resync. A device that implements accessctl.GrantLister is diffed
// against its list; any other against the ledger, checked person by person
// where the device implements accessctl.GrantGetter, and otherwise every
// wanted grant is pushed again after a reconnect because nothing can say
// what it kept. Attaching a device already attached replaces its
// PermissionSync.
//
// Attaching removes nothing the host did not ask about: persons the device
// holds that nobody wants are removed only once its desired state is
// declared complete (Set, Declare), and never with WithKeepUnknown.
func (r *Reconciler) Attach(ref accessctl.DeviceRef, ps accessctl.PermissionSync) error {
	if ps == nil || ref.ID == "" {
		return fmt.Errorf("reconcile: %w: attach needs a device id and a PermissionSync", accessctl.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return accessctl.ErrClosed
	}
	d := r.device(ref)
	d.ps = ps
	d.lister, _ = ps.(accessctl.GrantLister)
	d.getter, _ = ps.(accessctl.GrantGetter)
	d.resync = true
	if d.done == nil {
		d.done = make(chan struct{})
		r.wg.Add(1)
		go r.run(d)
	}
	r.wakeLocked(d)
	return nil
}

// Put wants g on every device in g.Devices (a door group). Putting a grant
// equal to the one applied does nothing; putting it again after it failed
// for good (invalid_input, needs_manual) tries again.
func (r *Reconciler) Put(ctx context.Context, g accessctl.Grant) error {
	if g.Person.ID == "" || len(g.Devices) == 0 {
		return fmt.Errorf("reconcile: %w: a grant needs a person id and devices", accessctl.ErrInvalid)
	}
	ups := make([]update, 0, len(g.Devices))
	for _, dev := range g.Devices {
		ups = append(ups, update{dev: dev, person: g.Person, grant: &g})
	}
	return r.apply(ctx, ups, nil)
}

// Set makes grants the whole desired state of dev: persons it holds that
// are not in grants are removed from it. Set declares dev (see Declare).
func (r *Reconciler) Set(ctx context.Context, dev accessctl.DeviceRef, grants []accessctl.Grant) error {
	ups := make([]update, 0, len(grants))
	keep := map[string]bool{}
	for i := range grants {
		if grants[i].Person.ID == "" {
			return fmt.Errorf("reconcile: %w: grant %d has no person id", accessctl.ErrInvalid, i)
		}
		keep[grants[i].Person.ID] = true
		ups = append(ups, update{dev: dev, person: grants[i].Person, grant: &grants[i]})
	}
	return r.apply(ctx, ups, &setScope{dev: dev, keep: keep})
}

// Declare says that the desired state of each of devs is now complete: the
// host has Put every grant it wants there. From then on persons a device
// holds that nobody asked for are removed from it (unless WithKeepUnknown);
// before, they are left alone, so that attaching a device before the host
// loaded its grants does not wipe it. Set declares by itself. The
// declaration is stored: it holds across restarts.
func (r *Reconciler) Declare(ctx context.Context, devs ...accessctl.DeviceRef) error {
	if len(devs) == 0 {
		return fmt.Errorf("reconcile: %w: declare needs devices", accessctl.ErrInvalid)
	}
	for _, dev := range devs {
		if dev.ID == "" {
			return fmt.Errorf("reconcile: %w: declare needs device ids", accessctl.ErrInvalid)
		}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return accessctl.ErrClosed
	}
	var ops []wop
	for _, dev := range devs {
		ops = append(ops, r.declareLocked(r.device(dev))...)
	}
	gen := r.write(ops...)
	r.mu.Unlock()
	return r.waitWritten(ctx, gen)
}

// declareLocked marks d's desired state complete and looks at the device
// again: its list may hold persons that were left alone until now.
func (r *Reconciler) declareLocked(d *device) []wop {
	if d.declared {
		return nil
	}
	d.declared = true
	d.resync = true
	r.wakeLocked(d)
	return []wop{declaredOp(d)}
}

// Remove stops wanting p on devs, or on every device when devs is empty.
func (r *Reconciler) Remove(ctx context.Context, p accessctl.PersonRef, devs ...accessctl.DeviceRef) error {
	if p.ID == "" {
		return fmt.Errorf("reconcile: %w: remove needs a person id", accessctl.ErrInvalid)
	}
	if len(devs) == 0 {
		r.mu.Lock()
		for _, d := range r.devices {
			if _, ok := d.want[p.ID]; ok {
				devs = append(devs, d.ref)
			}
		}
		r.mu.Unlock()
	}
	ups := make([]update, 0, len(devs))
	for _, dev := range devs {
		ups = append(ups, update{dev: dev, person: p})
	}
	return r.apply(ctx, ups, nil)
}

// Retry clears a final failure (invalid_input, needs_manual) of p on dev
// and tries again, for when the cause was fixed outside the grant (the
// device's storage was cleaned, a firmware was updated).
func (r *Reconciler) Retry(ctx context.Context, dev accessctl.DeviceRef, p accessctl.PersonRef) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return accessctl.ErrClosed
	}
	d := r.lookup(dev)
	if d == nil {
		r.mu.Unlock()
		return fmt.Errorf("reconcile: device %s: %w", dev, accessctl.ErrNotFound)
	}
	st := d.status[p.ID]
	if st == nil {
		r.mu.Unlock()
		return fmt.Errorf("reconcile: %s on %s: %w", p, dev, accessctl.ErrNotFound)
	}
	next := *st
	next.State, next.Attempts, next.Code, next.Message = accessctl.SyncPending, 0, "", ""
	next.FirstAttempt, next.LastAttempt = time.Time{}, time.Time{}
	gen := r.write(statusOp(d, p.ID, &next))
	note := r.setStatus(d, p.ID, &next)
	d.dirty[p.ID] = struct{}{}
	delete(d.retry, p.ID)
	r.wakeLocked(d)
	r.notify([]accessctl.SyncStatus{note})
	r.mu.Unlock()
	return r.waitWritten(ctx, gen)
}

// Resync makes the reconciler look at every person of dev again, listing
// the device where it can. Online events do this by themselves (Handle).
func (r *Reconciler) Resync(dev accessctl.DeviceRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.lookup(dev); d != nil {
		r.releaseHold(d)
		d.resync = true
		r.wakeLocked(d)
	}
}

// Reset says that dev lost what it held (a factory reset, a wiped user
// store, a replaced unit), for a device that cannot list its users or
// before it can be listed: the ledger of what dev holds is forgotten, every
// grant wanted there is pending again and is pushed again. A device that
// can list is listed anyway on every resync. WithResetEvents makes the
// drivers' own reports of such a loss call Reset.
func (r *Reconciler) Reset(dev accessctl.DeviceRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.lookup(dev); d != nil && !r.closed {
		r.resetLocked(d)
	}
}

func (r *Reconciler) resetLocked(d *device) {
	var (
		ops   []wop
		notes []accessctl.SyncStatus
	)
	for id := range d.ledger {
		delete(d.ledger, id)
		ops = append(ops, ledgerOp(d, id, nil))
		d.dirty[id] = struct{}{}
	}
	for id := range d.want {
		ops, notes = r.unapply(d, id, ops, notes)
		d.dirty[id] = struct{}{}
	}
	r.write(ops...)
	r.notify(notes)
	r.releaseHold(d)
	d.resync = true
	r.wakeLocked(d)
}

// Watch returns a sink that shows every event to the reconciler (Handle)
// and then passes it on to next, returning next's answer, so that a driver
// acknowledges the device only when next took the event. Put it in front
// of the host's sink:
//
//	srv := wsterm.NewServer(wsterm.WithSink(rc.Watch(ob))) // ob: the outbox, or any sink
//
// Drivers report accessctl.KindOnline on every fresh session or
// registration, also one that comes inside their offline window (a device
// that rebooted faster than it was missed), so every reconnect resyncs the
// device. A nil next discards.
func (r *Reconciler) Watch(next accessctl.EventSink) accessctl.EventSink {
	if next == nil {
		next = accessctl.Discard
	}
	return accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
		_ = r.Handle(ctx, e) // never fails
		return next.Handle(ctx, e)
	})
}

// Handle makes the Reconciler an EventSink for device status (Watch puts
// it in front of another sink): an online event releases the device from
// its backoff and starts a full resync, also when the device was never
// seen offline; an offline event pauses it (it is still probed with
// backoff, in case an online event is missed); an event WithResetEvents
// picks resets the device (Reset). Other events are ignored. Handle never
// fails.
func (r *Reconciler) Handle(_ context.Context, e accessctl.Event) error {
	reset := r.cfg.isReset != nil && r.cfg.isReset(e)
	if e.Kind != accessctl.KindOnline && e.Kind != accessctl.KindOffline && !reset {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.lookup(e.Device)
	if d == nil || r.closed {
		return nil
	}
	if reset {
		r.resetLocked(d)
	}
	if e.Kind == accessctl.KindOnline {
		d.offline = false
		d.fails = 0
		r.releaseHold(d)
		d.resync = true
		r.wakeLocked(d)
		return nil
	}
	if e.Kind == accessctl.KindOffline {
		d.offline = true
		if !d.hold {
			r.holdLocked(d)
		}
	}
	return nil
}

// Status reports p on dev.
func (r *Reconciler) Status(dev accessctl.DeviceRef, p accessctl.PersonRef) (accessctl.SyncStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.lookup(dev)
	if d == nil {
		return accessctl.SyncStatus{}, false
	}
	st := d.status[p.ID]
	if st == nil {
		return accessctl.SyncStatus{}, false
	}
	return st.SyncStatus, true
}

// Statuses reports every person of dev, sorted by person id.
func (r *Reconciler) Statuses(dev accessctl.DeviceRef) []accessctl.SyncStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.lookup(dev)
	if d == nil {
		return nil
	}
	out := make([]accessctl.SyncStatus, 0, len(d.status))
	for _, st := range d.status {
		out = append(out, st.SyncStatus)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Person.ID < out[j].Person.ID })
	return out
}

// Stats returns a snapshot of the counters and states.
func (r *Reconciler) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.States = make(map[accessctl.SyncState]int, len(r.stats.States))
	for k, v := range r.stats.States {
		if v != 0 {
			s.States[k] = v
		}
	}
	s.Devices = len(r.devices)
	s.Attached = 0
	for _, d := range r.devices {
		if d.ps != nil {
			s.Attached++
		}
	}
	return s
}

// Settled reports whether nothing is left to do: every attached device has
// no work queued or waiting for a retry, and every pair is in a final state
// (applied, removed, invalid_input or needs_manual).
func (r *Reconciler) Settled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settledLocked()
}

func (r *Reconciler) settledLocked() bool {
	for _, d := range r.devices {
		if d.ps == nil {
			continue
		}
		if d.busy || d.resync || len(d.dirty) > 0 || len(d.retry) > 0 {
			return false
		}
	}
	for s, n := range r.stats.States {
		if n > 0 && (s == accessctl.SyncPending || s == accessctl.SyncInFlight || s == accessctl.SyncRetryableFailure || s == accessctl.SyncUnknown) {
			return false
		}
	}
	return true
}

// Wait blocks until Settled or ctx ends.
func (r *Reconciler) Wait(ctx context.Context) error {
	return r.changed.Wait(ctx, &r.mu, r.settledLocked)
}

// Close stops the workers, waiting until ctx ends for the calls in flight;
// after that they are cancelled. State is on disk: the next New resumes it.
// For a reconciler made by Open, Close closes the file.
func (r *Reconciler) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return accessctl.ErrClosed
	}
	r.closed = true
	for _, d := range r.devices {
		if d.timer != nil {
			d.timer.Stop()
			d.timer = nil
		}
		r.wakeLocked(d)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.cancel()
		<-done
	}
	r.cancel()
	close(r.stopCommit) // the committer writes what is queued, then exits
	<-r.commitDone
	if r.ownDB {
		if err := r.db.Close(); err != nil {
			return fmt.Errorf("reconcile: close: %w", err)
		}
	}
	return nil
}

// update is one (device, person) change of the desired state; grant nil
// means "not wanted".
type update struct {
	dev    accessctl.DeviceRef
	person accessctl.PersonRef
	grant  *accessctl.Grant
}

// setScope makes apply remove the persons of dev not in keep.
type setScope struct {
	dev  accessctl.DeviceRef
	keep map[string]bool
}

func (r *Reconciler) apply(ctx context.Context, ups []update, scope *setScope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	type enc struct {
		body []byte
		hash string
	}
	encs := make([]enc, len(ups))
	for i, u := range ups {
		if u.grant == nil {
			continue
		}
		g := *u.grant
		g.Devices = []accessctl.DeviceRef{u.dev} // each device gets the grant as its own
		body, hash, err := encodeGrant(g)
		if err != nil {
			return fmt.Errorf("reconcile: %w: %v", accessctl.ErrInvalid, err)
		}
		encs[i] = enc{body, hash}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return accessctl.ErrClosed
	}
	var (
		ops   []wop
		notes []accessctl.SyncStatus
	)
	if scope != nil {
		d := r.device(scope.dev)
		for id := range d.want {
			if !scope.keep[id] {
				ups = append(ups, update{dev: scope.dev, person: r.personOf(d, id)})
				encs = append(encs, enc{})
			}
		}
		ops = append(ops, r.declareLocked(d)...)
	}
	for i, u := range ups {
		d := r.device(u.dev)
		id := u.person.ID
		old, wanted := d.want[id]
		cur := d.status[id]
		var st *statusRec
		if u.grant != nil {
			h := encs[i].hash
			if wanted && old == h && (cur == nil || !final(cur.State)) {
				continue // the same version, not failed for good
			}
			ops = append(ops, wantOp(d, id, append(hexBytes(h), encs[i].body...)))
			st = &statusRec{SyncStatus: accessctl.SyncStatus{
				Person: u.person, Device: d.ref, Op: accessctl.OpUpsert, State: accessctl.SyncPending,
				CorrelationID: u.grant.CorrelationID,
			}, Hash: h}
			d.want[id] = h
		} else {
			if !wanted {
				continue
			}
			ops = append(ops, wantOp(d, id, nil))
			st = &statusRec{SyncStatus: accessctl.SyncStatus{Person: u.person, Device: d.ref, Op: accessctl.OpDelete, State: accessctl.SyncPending}}
			delete(d.want, id)
		}
		ops = append(ops, statusOp(d, id, st))
		notes = append(notes, r.setStatus(d, id, st))
		d.dirty[id] = struct{}{}
		delete(d.retry, id) // a new version goes now, not after the backoff
		r.wakeLocked(d)
	}
	gen := r.write(ops...)
	r.notify(notes)
	r.mu.Unlock()
	return r.waitWritten(ctx, gen)
}

// personOf returns the best PersonRef known for id on d.
func (r *Reconciler) personOf(d *device, id string) accessctl.PersonRef {
	if st := d.status[id]; st != nil {
		return st.Person
	}
	if e, ok := d.ledger[id]; ok {
		return e.Person
	}
	return accessctl.PersonRef{ID: id}
}

// setStatus replaces the in-memory status and keeps the counts. Callers
// hold mu and have stored st.
func (r *Reconciler) setStatus(d *device, id string, st *statusRec) accessctl.SyncStatus {
	if old := d.status[id]; old != nil {
		r.stats.States[old.State]--
	}
	d.status[id] = st
	r.stats.States[st.State]++
	r.changed.Notify()
	return st.SyncStatus
}

// notify runs the status callback. Callers may hold mu: the callback must
// not call back into the reconciler.
func (r *Reconciler) notify(sts []accessctl.SyncStatus) {
	for _, st := range sts {
		switch st.State {
		case accessctl.SyncInvalidInput, accessctl.SyncNeedsManual, accessctl.SyncUnknown:
			r.cfg.log.Warn("reconcile: grant needs attention", "device", st.Device.String(), "person", st.Person.String(),
				"op", st.Op, "state", st.State, "code", st.Code, "message", st.Message, "attempts", st.Attempts)
		case accessctl.SyncRetryableFailure:
			r.cfg.log.Debug("reconcile: will retry", "device", st.Device.String(), "person", st.Person.String(),
				"op", st.Op, "code", st.Code, "message", st.Message, "attempts", st.Attempts)
		}
		if r.cfg.onStatus != nil {
			r.cfg.onStatus(st)
		}
	}
}

func (r *Reconciler) wakeLocked(d *device) {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// holdLocked parks d until its backoff delay has passed.
func (r *Reconciler) holdLocked(d *device) {
	d.hold = true
	if d.timer != nil {
		d.timer.Stop()
	}
	delay := r.cfg.retry.Delay(d.fails)
	d.fails++
	d.timer = time.AfterFunc(delay, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return
		}
		r.releaseHold(d)
		r.wakeLocked(d)
	})
}

// releaseHold ends d's backoff: what waited for it is looked at again.
func (r *Reconciler) releaseHold(d *device) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.hold = false
	for id := range d.retry {
		d.dirty[id] = struct{}{}
	}
	clear(d.retry)
}

// encodeGrant returns the stored form of g and the hash of what a device
// holds of it: the correlation id and the device list do not make a new
// version.
func encodeGrant(g accessctl.Grant) (body []byte, hash string, err error) {
	body, err = json.Marshal(g)
	if err != nil {
		return nil, "", err
	}
	g.CorrelationID, g.Devices = "", nil
	pushed, err := json.Marshal(g)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(pushed)
	return body, hex.EncodeToString(sum[:]), nil
}

func hexBytes(h string) []byte {
	b, _ := hex.DecodeString(h)
	return b
}

func deviceKey(d accessctl.DeviceRef) string { return d.Platform + "\x00" + d.ID }
