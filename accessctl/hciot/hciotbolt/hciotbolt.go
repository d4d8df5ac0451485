package hciotbolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl/hciot"
)

// The top-level bucket and its sub-buckets.
var (
	rootBucket     = []byte("hciot")
	byPersonBucket = []byte("ledger") // person \x00 device → JSON LedgerEntry
	byDeviceBucket = []byte("ledger-by-device")
	machinesBucket = []byte("machines") // machineCode → JSON Machine
)

// ErrDamaged is returned for a stored record that does not decode.
var ErrDamaged = errors.New("hciotbolt: damaged record")

func ensure(db *bbolt.DB) error {
	if db == nil {
		return errors.New("hciotbolt: nil database")
	}
	return db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(rootBucket)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{byPersonBucket, byDeviceBucket, machinesBucket} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

func sub(tx *bbolt.Tx, name []byte) *bbolt.Bucket { return tx.Bucket(rootBucket).Bucket(name) }

// pairKey joins two ids; HC ids never contain NUL.
func pairKey(a, b string) []byte { return append(append([]byte(a), 0), b...) }

// Ledger is an hciot.Ledger in bbolt. Every write is committed (fsync'd)
// before it returns.
type Ledger struct{ db *bbolt.DB }

var _ hciot.Ledger = (*Ledger)(nil)

// NewLedger returns the ledger kept in db, creating its buckets.
func NewLedger(db *bbolt.DB) (*Ledger, error) {
	if err := ensure(db); err != nil {
		return nil, err
	}
	return &Ledger{db: db}, nil
}

// Put implements hciot.Ledger.
func (l *Ledger) Put(_ context.Context, e hciot.LedgerEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return l.db.Update(func(tx *bbolt.Tx) error {
		if err := sub(tx, byPersonBucket).Put(pairKey(e.Person, e.Device), v); err != nil {
			return err
		}
		return sub(tx, byDeviceBucket).Put(pairKey(e.Device, e.Person), nil)
	})
}

// Delete implements hciot.Ledger.
func (l *Ledger) Delete(_ context.Context, person, device string) error {
	return l.db.Update(func(tx *bbolt.Tx) error {
		if err := sub(tx, byPersonBucket).Delete(pairKey(person, device)); err != nil {
			return err
		}
		return sub(tx, byDeviceBucket).Delete(pairKey(device, person))
	})
}

// ByPerson implements hciot.Ledger; entries are sorted by device.
func (l *Ledger) ByPerson(_ context.Context, person string) ([]hciot.LedgerEntry, error) {
	out := []hciot.LedgerEntry{}
	err := l.db.View(func(tx *bbolt.Tx) error {
		prefix := pairKey(person, "")
		c := sub(tx, byPersonBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func decodeEntry(k, v []byte) (hciot.LedgerEntry, error) {
	var e hciot.LedgerEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("%w: ledger %q: %v", ErrDamaged, k, err)
	}
	return e, nil
}

// ByDevice implements hciot.Ledger; entries are sorted by person.
func (l *Ledger) ByDevice(_ context.Context, device string) ([]hciot.LedgerEntry, error) {
	out := []hciot.LedgerEntry{}
	err := l.db.View(func(tx *bbolt.Tx) error {
		prefix := pairKey(device, "")
		persons := sub(tx, byPersonBucket)
		c := sub(tx, byDeviceBucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			person := string(k[len(prefix):])
			v := persons.Get(pairKey(person, device))
			if v == nil {
				return fmt.Errorf("%w: ledger index %q has no entry", ErrDamaged, k)
			}
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Machines keeps the machines HC registered, so that a restarted bridge
// opens their devices again (HC does not send addMachine twice).
type Machines struct{ db *bbolt.DB }

// NewMachines returns the machine store kept in db, creating its buckets.
func NewMachines(db *bbolt.DB) (*Machines, error) {
	if err := ensure(db); err != nil {
		return nil, err
	}
	return &Machines{db: db}, nil
}

// Save replaces the stored machines with ms (usually Server.Machines()
// after a command that added, changed or removed one).
func (m *Machines) Save(ms []hciot.Machine) error {
	return m.db.Update(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if err := root.DeleteBucket(machinesBucket); err != nil {
			return err
		}
		b, err := root.CreateBucket(machinesBucket)
		if err != nil {
			return err
		}
		for _, mc := range ms {
			v, err := json.Marshal(mc)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(mc.Code), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// List returns the stored machines sorted by machineCode.
func (m *Machines) List() ([]hciot.Machine, error) {
	var out []hciot.Machine
	err := m.db.View(func(tx *bbolt.Tx) error {
		return sub(tx, machinesBucket).ForEach(func(k, v []byte) error {
			var mc hciot.Machine
			if err := json.Unmarshal(v, &mc); err != nil {
				return fmt.Errorf("%w: machine %q: %v", ErrDamaged, k, err)
			}
			out = append(out, mc)
			return nil
		})
	})
	return out, err
}

// Restore registers every stored machine with srv, as HC's addMachine
// did before the restart. It tries them all and joins the errors.
func (m *Machines) Restore(ctx context.Context, srv *hciot.Server) error {
	ms, err := m.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, mc := range ms {
		if err := srv.RegisterMachine(ctx, mc); err != nil {
			errs = append(errs, fmt.Errorf("machine %s: %w", mc.Code, err))
		}
	}
	return errors.Join(errs...)
}
