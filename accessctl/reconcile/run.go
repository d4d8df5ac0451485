package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
)

// run is the one goroutine of a device: it alternates full resyncs and
// rounds of at most cfg.batch persons, each round with at most
// cfg.concurrency calls in flight.
func (r *Reconciler) run(d *device) {
	defer r.wg.Done()
	defer close(d.done)
	for {
		r.mu.Lock()
		for !r.closed && (d.hold || (!d.resync && len(d.dirty) == 0)) {
			r.mu.Unlock()
			select {
			case <-d.wake:
			case <-r.ctx.Done():
				return
			}
			r.mu.Lock()
		}
		if r.closed {
			r.mu.Unlock()
			return
		}
		d.busy = true
		if d.resync {
			d.resync = false
			r.mu.Unlock()
			r.fullResync(d)
		} else {
			ids := make([]string, 0, r.cfg.batch)
			for id := range d.dirty {
				ids = append(ids, id)
				delete(d.dirty, id)
				if len(ids) == r.cfg.batch {
					break
				}
			}
			r.mu.Unlock()
			r.round(d, ids)
		}
		r.mu.Lock()
		d.busy = false
		r.changed.Notify()
		r.mu.Unlock()
	}
}

// fullResync corrects the ledger with what the device says it holds: its
// list, or, for a device that can only read persons back, each confirmed
// person read back; for a device that can say neither, every entry becomes
// unconfirmed. Then it queues every person of the device.
func (r *Reconciler) fullResync(d *device) {
	r.mu.Lock()
	lister, getter := d.lister, d.getter
	r.mu.Unlock()
	var (
		held     map[string]accessctl.PersonRef
		readBack map[string]bool // person → the device still holds it
	)
	if lister == nil && getter != nil {
		var err error
		readBack, err = r.readBack(d, getter)
		switch {
		case err == nil:
		case r.ctx.Err() != nil:
			return
		case errors.Is(err, accessctl.ErrUnsupported):
			r.mu.Lock()
			d.getter = nil // cannot read back after all: push everything
			r.mu.Unlock()
		default:
			r.resyncFailed(d, err)
			return
		}
	}
	if lister != nil {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.callTimeout)
		refs, err := lister.ListGrants(ctx)
		cancel()
		switch {
		case err == nil:
			held = make(map[string]accessctl.PersonRef, len(refs))
			for _, p := range refs {
				held[p.ID] = p
			}
		case r.ctx.Err() != nil:
			return
		case errors.Is(err, accessctl.ErrUnsupported):
			r.mu.Lock()
			d.lister = nil // this one cannot list after all: use the ledger
			r.mu.Unlock()
		default:
			r.resyncFailed(d, err)
			return
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		ops   []wop
		notes []accessctl.SyncStatus
	)
	if held != nil {
		for id, p := range held {
			if r.strangerKept(d, id) {
				continue // nobody asked for it, and removing it is not ours to decide
			}
			if _, ok := d.ledger[id]; !ok {
				e := ledgerEntry{Person: p, Maybe: true} // a version we did not push
				d.ledger[id] = e
				ops = append(ops, ledgerOp(d, id, &e))
			}
		}
		for id := range d.ledger {
			if _, ok := held[id]; !ok {
				// The device's list beats the ledger: it lost the person,
				// whatever we pushed, so the grant is pending, not applied.
				delete(d.ledger, id)
				ops = append(ops, ledgerOp(d, id, nil))
				ops, notes = r.unapply(d, id, ops, notes)
			}
		}
	} else {
		for id, e := range d.ledger {
			if e.Maybe {
				continue
			}
			if still, ok := readBack[id]; ok {
				if !still { // read back: the device lost it
					delete(d.ledger, id)
					ops = append(ops, ledgerOp(d, id, nil))
					ops, notes = r.unapply(d, id, ops, notes)
				}
				continue
			}
			e.Maybe = true // it may have been reset while away
			d.ledger[id] = e
			ops = append(ops, ledgerOp(d, id, &e))
		}
	}
	r.write(ops...)
	r.notify(notes)
	for id := range d.want {
		d.dirty[id] = struct{}{}
	}
	for id := range d.ledger {
		d.dirty[id] = struct{}{}
	}
	r.stats.Resyncs++
}

// resyncFailed parks d after a failed list or read-back; the resync is
// tried again after the backoff (or at the next online event).
func (r *Reconciler) resyncFailed(d *device, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Failures++
	d.resync = true
	if errors.Is(err, accessctl.ErrOffline) {
		d.offline = true
	}
	r.holdLocked(d)
}

// readBack asks a device that cannot list, but can read a person back,
// whether it still holds each person the ledger says it holds for sure.
// Only confirmed entries are asked about: an unconfirmed one may hold an
// older version than the ledger's, which presence cannot tell, so it is
// pushed again. A person whose read fails otherwise is left out (pushed
// again); offline or unsupported fails the whole read-back.
func (r *Reconciler) readBack(d *device, g accessctl.GrantGetter) (map[string]bool, error) {
	r.mu.Lock()
	refs := make([]accessctl.PersonRef, 0, len(d.ledger))
	for _, e := range d.ledger {
		if !e.Maybe {
			refs = append(refs, e.Person)
		}
	}
	r.mu.Unlock()
	errs := make([]error, len(refs))
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	for i := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.callTimeout)
			defer cancel()
			_, errs[i] = g.GetGrant(ctx, refs[i])
		})
	}
	wg.Wait()
	held := make(map[string]bool, len(refs))
	for i, err := range errs {
		switch {
		case err == nil:
			held[refs[i].ID] = true
		case errors.Is(err, accessctl.ErrNotFound):
			held[refs[i].ID] = false
		case errors.Is(err, accessctl.ErrOffline), errors.Is(err, accessctl.ErrClosed), errors.Is(err, accessctl.ErrUnsupported):
			return nil, err
		}
	}
	return held, nil
}

// unapply makes an applied grant of id pending again, for a device that no
// longer holds it. Callers hold mu.
func (r *Reconciler) unapply(d *device, id string, ops []wop, notes []accessctl.SyncStatus) ([]wop, []accessctl.SyncStatus) {
	cur := d.status[id]
	if cur == nil || cur.State != accessctl.SyncApplied {
		return ops, notes
	}
	next := *cur
	next.State = accessctl.SyncPending
	return append(ops, statusOp(d, id, &next)), append(notes, r.setStatus(d, id, &next))
}

// strangerKept reports whether id, held by d and never asked for by the
// host, stays on d: always with WithKeepUnknown, and until the host
// declared d's desired state complete (Declare, Set). Callers hold mu.
func (r *Reconciler) strangerKept(d *device, id string) bool {
	if _, wanted := d.want[id]; wanted || d.status[id] != nil {
		return false // the host spoke of this person
	}
	return r.cfg.keepUnknown || !d.declared
}

// task is one call of a round.
type task struct {
	id     string
	op     accessctl.SyncOp
	person accessctl.PersonRef
	grant  accessctl.Grant
	hash   string
	skip   bool // the wanted version changed before the call: the next round sends it
}

// round looks at ids: it decides and stores the intents (in flight), waits
// until they are on disk, makes the calls, and queues the outcomes.
func (r *Reconciler) round(d *device, ids []string) {
	r.mu.Lock()
	ps := d.ps
	var (
		tasks []task
		ops   []wop
		notes []accessctl.SyncStatus
	)
	now := r.cfg.now()
	setStatus := func(id string, st *statusRec) {
		ops = append(ops, statusOp(d, id, st))
		notes = append(notes, r.setStatus(d, id, st))
	}
	for _, id := range ids {
		h, wanted := d.want[id]
		le, held := d.ledger[id]
		cur := d.status[id]
		switch {
		case wanted && held && le.Hash == h && !le.Maybe:
			if cur == nil || cur.State != accessctl.SyncApplied || cur.Hash != h {
				st := &statusRec{SyncStatus: base(cur, d, le.Person, accessctl.OpUpsert), Hash: h}
				st.State = accessctl.SyncApplied
				setStatus(id, st)
			}
		case wanted:
			if cur != nil && cur.Hash == h && cur.Op == accessctl.OpUpsert && final(cur.State) {
				continue // waits for new input or Retry
			}
			person := accessctl.PersonRef{ID: id}
			if cur != nil {
				person = cur.Person
			}
			e := ledgerEntry{Person: person, Hash: h, Maybe: true}
			d.ledger[id] = e
			ops = append(ops, ledgerOp(d, id, &e))
			st := &statusRec{SyncStatus: base(cur, d, person, accessctl.OpUpsert), Hash: h}
			if cur == nil || cur.Hash != h || cur.Op != accessctl.OpUpsert {
				st.Attempts = 0
			}
			if st.Attempts == 0 {
				st.FirstAttempt = now
			}
			st.State, st.Attempts, st.LastAttempt = accessctl.SyncInFlight, st.Attempts+1, now
			setStatus(id, st)
			tasks = append(tasks, task{id: id, op: accessctl.OpUpsert, person: person, hash: h})
		case held && r.strangerKept(d, id):
			// Listed before the rule kept it (an older store): left alone.
		case held:
			if cur != nil && cur.Op == accessctl.OpDelete && final(cur.State) {
				continue
			}
			st := &statusRec{SyncStatus: base(cur, d, le.Person, accessctl.OpDelete)}
			if cur == nil || cur.Op != accessctl.OpDelete {
				st.Attempts = 0
			}
			if st.Attempts == 0 {
				st.FirstAttempt = now
			}
			st.State, st.Attempts, st.LastAttempt = accessctl.SyncInFlight, st.Attempts+1, now
			setStatus(id, st)
			tasks = append(tasks, task{id: id, op: accessctl.OpDelete, person: le.Person})
		case cur != nil && cur.State != accessctl.SyncRemoved:
			st := &statusRec{SyncStatus: base(cur, d, cur.Person, accessctl.OpDelete)}
			st.State = accessctl.SyncRemoved // nothing held, nothing wanted
			setStatus(id, st)
		}
	}
	gen := r.write(ops...)
	r.notify(notes)
	r.mu.Unlock()
	if len(tasks) == 0 {
		return
	}

	// Write-ahead: the ledger says "maybe held" on disk before any call.
	err := r.waitWritten(r.ctx, gen)
	if err == nil {
		err = r.loadGrants(d, tasks)
	}
	if err != nil {
		if r.ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.stats.Failures++
		for _, t := range tasks {
			d.retry[t.id] = struct{}{}
		}
		r.holdLocked(d)
		r.mu.Unlock()
		return
	}

	errs := make([]error, len(tasks))
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	for i := range tasks {
		if tasks[i].skip {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.callTimeout)
			defer cancel()
			if tasks[i].op == accessctl.OpUpsert {
				errs[i] = ps.PutGrant(ctx, tasks[i].grant)
			} else {
				errs[i] = ps.RemoveGrant(ctx, tasks[i].person)
			}
		})
	}
	wg.Wait()
	r.outcomes(d, tasks, errs)
}

// loadGrants reads the wanted grants of the upserts from disk; a task whose
// stored version is not the one decided on is skipped.
func (r *Reconciler) loadGrants(d *device, tasks []task) error {
	return r.db.View(func(tx *bbolt.Tx) error {
		var want *bbolt.Bucket
		if b := tx.Bucket(bucketRoot).Bucket([]byte(d.key)); b != nil {
			want = b.Bucket(bucketWant)
		}
		for i := range tasks {
			t := &tasks[i]
			if t.op != accessctl.OpUpsert {
				continue
			}
			var v []byte
			if want != nil {
				v = want.Get([]byte(t.id))
			}
			if len(v) < sha256.Size || hex.EncodeToString(v[:sha256.Size]) != t.hash {
				t.skip = true
				continue
			}
			if err := json.Unmarshal(v[sha256.Size:], &t.grant); err != nil {
				return fmt.Errorf("reconcile: stored grant %s: %w", t.id, err)
			}
			t.person = t.grant.Person
		}
		return nil
	})
}

// outcomes records what the calls of a round did and schedules what failed.
func (r *Reconciler) outcomes(d *device, tasks []task, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stopping := r.ctx.Err() != nil
	var (
		ops                      []wop
		notes                    []accessctl.SyncStatus
		failures                 uint64
		anyOffline, anyRetryable bool
	)
	for i, t := range tasks {
		if t.skip {
			d.dirty[t.id] = struct{}{}
			continue
		}
		err := errs[i]
		if err != nil && stopping {
			continue // cancelled by Close: in flight on disk, pending after a restart
		}
		cur := d.status[t.id]
		st := &statusRec{SyncStatus: base(cur, d, t.person, t.op), Hash: t.hash}
		retry := false
		if err == nil {
			if t.op == accessctl.OpUpsert {
				r.stats.Puts++
				e := ledgerEntry{Person: t.person, Hash: t.hash}
				d.ledger[t.id] = e
				ops = append(ops, ledgerOp(d, t.id, &e))
			} else {
				r.stats.Removes++
				delete(d.ledger, t.id)
				ops = append(ops, ledgerOp(d, t.id, nil))
			}
			st.State, st.Code, st.Message = accessctl.SyncStateOf(t.op, nil), "", ""
		} else {
			failures++
			st.State = accessctl.SyncStateOf(t.op, err)
			st.Code, st.Message = "", err.Error()
			var rej *accessctl.RejectedError
			if errors.As(err, &rej) {
				st.Code, st.Message = rej.Code, rej.Message
			}
			offline := errors.Is(err, accessctl.ErrOffline) || errors.Is(err, accessctl.ErrClosed)
			if offline {
				st.Attempts-- // nothing was sent
				anyOffline = true
			}
			if st.State != accessctl.SyncInvalidInput {
				if !offline && st.Attempts >= r.cfg.maxAttempts {
					st.State = accessctl.SyncNeedsManual
				} else {
					st.State = accessctl.SyncRetryableFailure
					retry = true
				}
			}
		}
		// The host changed its mind during the call: the status it set
		// (pending, newer version) stays, and the next round acts on it.
		h, wanted := d.want[t.id]
		if cur != nil && cur.State != accessctl.SyncInFlight &&
			((t.op == accessctl.OpUpsert && (!wanted || h != t.hash)) || (t.op == accessctl.OpDelete && wanted)) {
			d.dirty[t.id] = struct{}{}
			continue
		}
		ops = append(ops, statusOp(d, t.id, st))
		notes = append(notes, r.setStatus(d, t.id, st))
		if retry {
			d.retry[t.id] = struct{}{}
			anyRetryable = true
		}
	}
	r.stats.Failures += failures
	r.write(ops...)
	r.notify(notes)
	if stopping {
		return
	}
	if anyOffline {
		d.offline = true
	}
	switch {
	case anyRetryable:
		r.holdLocked(d)
	case failures == 0:
		d.fails = 0
	}
}

// base starts a status from the current one.
func base(cur *statusRec, d *device, p accessctl.PersonRef, op accessctl.SyncOp) accessctl.SyncStatus {
	st := accessctl.SyncStatus{Person: p, Device: d.ref, Op: op}
	if cur != nil {
		st.Attempts, st.FirstAttempt, st.LastAttempt = cur.Attempts, cur.FirstAttempt, cur.LastAttempt
		st.CorrelationID, st.Code, st.Message = cur.CorrelationID, cur.Code, cur.Message
	}
	return st
}

// final states wait for new input (or Retry).
func final(s accessctl.SyncState) bool {
	return s == accessctl.SyncInvalidInput || s == accessctl.SyncNeedsManual
}
