package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
)

// ledgerBucket holds one sub-bucket per device, keyed by person id.
var ledgerBucket = []byte("ledger")

// ErrDamaged is returned for a stored ledger record that does not decode.
var ErrDamaged = errors.New("store: damaged record")

// Ledger is an accessctl.Ledger in the state file: one bucket per device,
// one JSON record per person. Every write is committed (fsync'd) before it
// returns.
type Ledger struct{ db *bbolt.DB }

var _ accessctl.Ledger = (*Ledger)(nil)

// deviceKey tells devices apart by Platform and ID; the length prefix
// keeps ("ab","c") and ("a","bc") apart.
func deviceKey(d accessctl.DeviceRef) []byte {
	k := binary.AppendUvarint(nil, uint64(len(d.Platform)))
	return append(append(k, d.Platform...), d.ID...)
}

func check(ctx context.Context, person string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if person == "" {
		return fmt.Errorf("%w: ledger: empty person id", accessctl.ErrInvalid)
	}
	return nil
}

// mapErr gives a closed file the accessctl contract.
func mapErr(err error) error {
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return fmt.Errorf("store: %w: %w", accessctl.ErrClosed, err)
	}
	return err
}

// Put implements accessctl.Ledger.
func (l *Ledger) Put(ctx context.Context, device accessctl.DeviceRef, person string, entries []accessctl.LedgerEntry) error {
	if len(entries) == 0 {
		return l.Delete(ctx, device, person)
	}
	if err := check(ctx, person); err != nil {
		return err
	}
	v, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return mapErr(l.db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(ledgerBucket)
		if err != nil {
			return err
		}
		b, err := root.CreateBucketIfNotExists(deviceKey(device))
		if err != nil {
			return err
		}
		return b.Put([]byte(person), v)
	}))
}

func deviceBucket(tx *bbolt.Tx, device accessctl.DeviceRef) *bbolt.Bucket {
	root := tx.Bucket(ledgerBucket)
	if root == nil {
		return nil
	}
	return root.Bucket(deviceKey(device))
}

// Get implements accessctl.Ledger.
func (l *Ledger) Get(ctx context.Context, device accessctl.DeviceRef, person string) ([]accessctl.LedgerEntry, error) {
	if err := check(ctx, person); err != nil {
		return nil, err
	}
	var out []accessctl.LedgerEntry
	err := l.db.View(func(tx *bbolt.Tx) error {
		b := deviceBucket(tx, device)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(person))
		if v == nil {
			return nil
		}
		// Unmarshal copies: nothing returned points into the mmap.
		if err := json.Unmarshal(v, &out); err != nil {
			return fmt.Errorf("%w: ledger %s/%s: %v", ErrDamaged, device.ID, person, err)
		}
		return nil
	})
	return out, mapErr(err)
}

// Delete implements accessctl.Ledger.
func (l *Ledger) Delete(ctx context.Context, device accessctl.DeviceRef, person string) error {
	if err := check(ctx, person); err != nil {
		return err
	}
	return mapErr(l.db.Update(func(tx *bbolt.Tx) error {
		b := deviceBucket(tx, device)
		if b == nil {
			return nil
		}
		if err := b.Delete([]byte(person)); err != nil {
			return err
		}
		if k, _ := b.Cursor().First(); k == nil {
			return tx.Bucket(ledgerBucket).DeleteBucket(deviceKey(device))
		}
		return nil
	}))
}

// Persons implements accessctl.Ledger (bbolt keeps keys sorted).
func (l *Ledger) Persons(ctx context.Context, device accessctl.DeviceRef) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []string{}
	err := l.db.View(func(tx *bbolt.Tx) error {
		b := deviceBucket(tx, device)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return ctx.Err()
		})
	})
	return out, mapErr(err)
}
