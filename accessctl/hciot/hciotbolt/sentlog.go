package hciotbolt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
)

var (
	sentBucket       = []byte("sent")         // event id → state(1) | begun unix ns(8)
	sentByTimeBucket = []byte("sent-by-time") // begun unix ns(8) | event id → nil, oldest first
)

// Default retention of a SentLog: an outbox redelivers within hours, so a
// month of ids, at most 200 000 of them (about 10 MB), is ample.
const (
	DefaultSentRetention = 30 * 24 * time.Hour
	DefaultSentMax       = 200_000
	maxSentID            = 512 // bytes; longer ids are keyed by their hash
	pruneBatch           = 256 // per write, so a write stays short
)

// SentLog is an hciot.SentLog in bbolt, in a bucket of its own. Every
// Begin and Done is committed (fsync'd) before it returns. Ids older than
// the retention, or beyond the maximum count (oldest first), are forgotten:
// an event redelivered after that is uploaded again.
type SentLog struct {
	db     *bbolt.DB
	maxAge time.Duration
	max    int
	now    func() time.Time
}

var _ hciot.SentLog = (*SentLog)(nil)

// SentLogOption configures NewSentLog.
type SentLogOption func(*SentLog)

// WithSentRetention bounds the log by age and count (values <= 0 keep the defaults).
func WithSentRetention(maxAge time.Duration, maxCount int) SentLogOption {
	return func(l *SentLog) {
		if maxAge > 0 {
			l.maxAge = maxAge
		}
		if maxCount > 0 {
			l.max = maxCount
		}
	}
}

// WithSentClock sets the clock (tests).
func WithSentClock(now func() time.Time) SentLogOption {
	return func(l *SentLog) {
		if now != nil {
			l.now = now
		}
	}
}

// NewSentLog returns the log kept in db, creating its buckets.
func NewSentLog(db *bbolt.DB, opts ...SentLogOption) (*SentLog, error) {
	if err := ensure(db); err != nil {
		return nil, err
	}
	l := &SentLog{db: db, maxAge: DefaultSentRetention, max: DefaultSentMax, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		for _, name := range [][]byte{sentBucket, sentByTimeBucket} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// sentKey bounds the key: a longer id is stored by its sha256.
func sentKey(id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty event id", accessctl.ErrInvalid)
	}
	if len(id) > maxSentID {
		h := sha256.Sum256([]byte(id))
		return "sha256:" + hex.EncodeToString(h[:]), nil
	}
	return id, nil
}

// State implements hciot.SentLog. An expired id is NotSent.
func (l *SentLog) State(_ context.Context, id string) (hciot.SentState, error) {
	id, err := sentKey(id)
	if err != nil {
		return hciot.NotSent, err
	}
	st := hciot.NotSent
	err = l.db.View(func(tx *bbolt.Tx) error {
		v := sub(tx, sentBucket).Get([]byte(id))
		if v == nil {
			return nil
		}
		s, at, err := decodeSent(v)
		if err != nil {
			return err
		}
		if l.now().Sub(at) <= l.maxAge {
			st = s
		}
		return nil
	})
	return st, err
}

// Begin implements hciot.SentLog.
func (l *SentLog) Begin(_ context.Context, id string) error { return l.put(id, hciot.Sending) }

// Done implements hciot.SentLog.
func (l *SentLog) Done(_ context.Context, id string) error { return l.put(id, hciot.Sent) }

func (l *SentLog) put(id string, st hciot.SentState) error {
	id, err := sentKey(id)
	if err != nil {
		return err
	}
	now := l.now()
	return l.db.Update(func(tx *bbolt.Tx) error {
		ids, byTime := sub(tx, sentBucket), sub(tx, sentByTimeBucket)
		n := sentCount(tx)
		old := ids.Get([]byte(id))
		if old == nil {
			n++
		} else {
			if _, at, err := decodeSent(old); err == nil {
				if err := byTime.Delete(timeKey(at, id)); err != nil {
					return err
				}
			}
		}
		v := make([]byte, 9)
		v[0] = byte(st)
		binary.BigEndian.PutUint64(v[1:], uint64(now.UnixNano()))
		if err := ids.Put([]byte(id), v); err != nil {
			return err
		}
		if err := byTime.Put(timeKey(now, id), nil); err != nil {
			return err
		}
		n, err := l.prune(ids, byTime, now, n)
		if err != nil {
			return err
		}
		return setSentCount(tx, n)
	})
}

// sentCountKey in the root bucket counts the ids, so bounding the log does
// not walk it.
var sentCountKey = []byte("sent-count")

func sentCount(tx *bbolt.Tx) int {
	v := tx.Bucket(rootBucket).Get(sentCountKey)
	if len(v) != 8 {
		return sub(tx, sentBucket).Stats().KeyN // first use, or damaged: count once
	}
	return int(binary.BigEndian.Uint64(v))
}

func setSentCount(tx *bbolt.Tx, n int) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(max(n, 0)))
	return tx.Bucket(rootBucket).Put(sentCountKey, v)
}

// prune forgets the oldest ids beyond the retention, a batch per write.
func (l *SentLog) prune(ids, byTime *bbolt.Bucket, now time.Time, n int) (int, error) {
	c := byTime.Cursor()
	for i, k := 0, firstKey(c); k != nil && i < pruneBatch; i, k = i+1, firstKey(c) {
		if len(k) < 8 {
			if err := c.Delete(); err != nil {
				return n, err
			}
			continue
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
		if n <= l.max && now.Sub(at) <= l.maxAge {
			return n, nil
		}
		if ids.Get(k[8:]) != nil {
			if err := ids.Delete(k[8:]); err != nil {
				return n, err
			}
			n--
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func firstKey(c *bbolt.Cursor) []byte { k, _ := c.First(); return k }

func timeKey(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, id...)
}

// decodeSent parses a stored record; hostile or damaged bytes are ErrDamaged.
func decodeSent(v []byte) (hciot.SentState, time.Time, error) {
	if len(v) != 9 || (hciot.SentState(v[0]) != hciot.Sending && hciot.SentState(v[0]) != hciot.Sent) {
		return hciot.NotSent, time.Time{}, fmt.Errorf("%w: sent record of %d bytes", ErrDamaged, len(v))
	}
	return hciot.SentState(v[0]), time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))), nil
}
