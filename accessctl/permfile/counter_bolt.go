package permfile

import (
	"context"
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// BoltCounter is a Counter kept in a bbolt database, so scan counts survive
// a restart (spec §3.6). Each TryUse is one write transaction.
type BoltCounter struct {
	db     *bolt.DB
	bucket []byte
}

// NewBoltCounter keeps counts in bucket of db (created if needed). The
// caller owns db and closes it.
func NewBoltCounter(db *bolt.DB, bucket string) (*BoltCounter, error) {
	if bucket == "" {
		return nil, errors.New("permfile: empty bucket name")
	}
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(bucket))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &BoltCounter{db: db, bucket: []byte(bucket)}, nil
}

func (c *BoltCounter) TryUse(ctx context.Context, key string, limit int) (used int, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket)
		used = decodeCount(b.Get([]byte(key)))
		if used >= limit {
			return nil
		}
		used++
		ok = true
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(used))
		return b.Put([]byte(key), v[:])
	})
	return used, ok, err
}

func (c *BoltCounter) Used(ctx context.Context, key string) (used int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		used = decodeCount(tx.Bucket(c.bucket).Get([]byte(key)))
		return nil
	})
	return used, err
}

func (c *BoltCounter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(c.bucket).Delete([]byte(key)) })
}

func decodeCount(v []byte) int {
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}
