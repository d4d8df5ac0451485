package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// wop is one write of the reconciler's state. Writes are queued under mu in
// the order of the in-memory changes they mirror, and one goroutine commits
// whatever is queued in one transaction (group commit): twenty devices
// finishing a round at once cost one fsync, not twenty.
type wop struct {
	dev    *device
	bucket []byte
	id     string
	val    []byte // nil deletes
}

func wantOp(d *device, id string, v []byte) wop { return wop{d, bucketWant, id, v} }

// declaredOp stores that d's desired state is complete (a key of d's own
// bucket, not of a sub-bucket).
func declaredOp(d *device) wop { return wop{d, nil, string(keyDeclared), []byte{1}} }

func ledgerOp(d *device, id string, e *ledgerEntry) wop {
	if e == nil {
		return wop{d, bucketLedger, id, nil}
	}
	v, _ := json.Marshal(e) // plain data: cannot fail
	return wop{d, bucketLedger, id, v}
}

func statusOp(d *device, id string, st *statusRec) wop {
	v, _ := json.Marshal(st)
	return wop{d, bucketStatus, id, v}
}

// write queues ops and returns the generation to wait for. Callers hold mu.
func (r *Reconciler) write(ops ...wop) uint64 {
	if len(ops) == 0 {
		return r.gen
	}
	r.pending = append(r.pending, ops...)
	r.gen++
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return r.gen
}

func (r *Reconciler) commitLoop() {
	defer close(r.commitDone)
	for failures := 0; ; {
		select {
		case <-r.kick:
		case <-r.stopCommit:
			_ = r.commit()
			return
		}
		if err := r.commit(); err != nil {
			// The disk fails: wait before the next try, keeping the writes.
			t := time.NewTimer(r.cfg.retry.Delay(failures))
			failures++
			select {
			case <-t.C:
			case <-r.stopCommit:
				t.Stop()
				_ = r.commit()
				return
			}
			select {
			case r.kick <- struct{}{}:
			default:
			}
			continue
		}
		failures = 0
	}
}

func (r *Reconciler) commit() error {
	r.mu.Lock()
	ops, upto := r.pending, r.gen
	r.pending = nil
	r.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	err := r.db.Update(func(tx *bbolt.Tx) error {
		for _, op := range ops {
			b, err := r.bucket(tx, op.dev)
			if err != nil {
				return err
			}
			if op.bucket != nil {
				b = b.Bucket(op.bucket)
			}
			if op.val == nil {
				err = b.Delete([]byte(op.id))
			} else {
				err = b.Put([]byte(op.id), op.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	r.mu.Lock()
	if err != nil {
		r.pending = append(ops, r.pending...)
		r.commitErr, r.failedGen = err, upto
	} else {
		r.committed, r.commitErr = upto, nil
		r.stats.Commits++
	}
	r.written.Notify()
	r.mu.Unlock()
	return err
}

// waitWritten blocks until the writes of generation gen are on disk.
func (r *Reconciler) waitWritten(ctx context.Context, gen uint64) error {
	var failed error
	err := r.written.Wait(ctx, &r.mu, func() bool {
		if r.committed >= gen {
			return true
		}
		if r.commitErr != nil && r.failedGen >= gen {
			failed = r.commitErr
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return fmt.Errorf("reconcile: store (kept, retried): %w", failed)
	}
	return nil
}

// bucket returns the bucket of d, creating it with d's reference.
func (r *Reconciler) bucket(tx *bbolt.Tx, d *device) (*bbolt.Bucket, error) {
	root := tx.Bucket(bucketRoot)
	b := root.Bucket([]byte(d.key))
	if b != nil {
		return b, nil
	}
	b, err := root.CreateBucket([]byte(d.key))
	if err != nil {
		return nil, err
	}
	ref, _ := json.Marshal(d.ref)
	if err := b.Put(keyRef, ref); err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketWant, bucketLedger, bucketStatus} {
		if _, err := b.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	return b, nil
}
