package outbox_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
)

// producers is how many devices report at once in the benchmarks: the
// group commit batches what concurrent producers append.
const producers = 64

// BenchmarkOutboxAppendDeliver is the outbox's throughput end to end: 64
// devices append (each Handle returns after its fsync'd commit) and every
// event is delivered to a sink and deleted from disk before the clock stops.
// Compare with BenchmarkRawBatchedWrites, the same events written to the
// same kind of bbolt store in batches of 64 with nothing else.
func BenchmarkOutboxAppendDeliver(b *testing.B) {
	var delivered atomic.Int64
	sink := accessctl.EventSinkFunc(func(context.Context, accessctl.Event) error {
		delivered.Add(1)
		return nil
	})
	ob, err := outbox.Open(b.TempDir(), sink)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			dev := fmt.Sprintf("d%02d", p)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := ob.Handle(ctx, pass(dev, int(i))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for delivered.Load() < int64(b.N) || ob.Stats().Bytes > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	st := ob.Stats()
	b.ReportMetric(float64(st.Appended)/float64(max(1, st.Commits)), "events/commit")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ob.Close(cctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawBatchedWrites is the baseline: the same events, encoded the
// same way, put into bbolt in transactions of 64 (one fsync per 64), by one
// writer, never read back nor deleted.
func BenchmarkRawBatchedWrites(b *testing.B) {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += producers {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("raw"))
			if err != nil {
				return err
			}
			for j := i; j < min(b.N, i+producers); j++ {
				v, err := json.Marshal(pass(fmt.Sprintf("d%02d", j%producers), j))
				if err != nil {
					return err
				}
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, uint64(j)), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
