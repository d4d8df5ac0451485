package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/store"
)

func open(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir)
	require.NoError(t, err)
	return db
}

func TestOpenCreatesAndLocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	db := open(t, dir)
	assert.Equal(t, filepath.Join(dir, store.FileName), db.Path())
	// A second open of the same file waits for the lock and gives up, as a
	// second gateway on the same -data dir would.
	start := time.Now()
	_, err := store.Open(dir, store.WithLockTimeout(200*time.Millisecond))
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, db.Close())
	db = open(t, dir)
	require.NoError(t, db.Close())
}

func TestLedgerConformance(t *testing.T) {
	accessctltest.TestLedger(t, func(t *testing.T) accessctl.Ledger {
		db := open(t, t.TempDir())
		t.Cleanup(func() { _ = db.Close() })
		return db.Ledger()
	})
}

func TestLedgerSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dev := accessctl.DeviceRef{Platform: "stdproto", ID: "SN0001"}
	want := []accessctl.LedgerEntry{{Kind: "card", Key: "777342461", Data: []byte(`{"cardId":"777342461"}`)}}
	db := open(t, dir)
	require.NoError(t, db.Ledger().Put(ctx, dev, "p-1", want))
	require.NoError(t, db.Ledger().Put(ctx, dev, "p-2", want))
	require.NoError(t, db.Ledger().Delete(ctx, dev, "p-2"))
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	got, err := db.Ledger().Get(ctx, dev, "p-1")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	persons, err := db.Ledger().Persons(ctx, dev)
	require.NoError(t, err)
	assert.Equal(t, []string{"p-1"}, persons)
}

func TestLedgerClosedAndDamaged(t *testing.T) {
	ctx := context.Background()
	dev := accessctl.DeviceRef{Platform: "p", ID: "d"}
	db := open(t, t.TempDir())
	l := db.Ledger()
	require.NoError(t, l.Put(ctx, dev, "p-1", []accessctl.LedgerEntry{{Kind: "card", Key: "1"}}))
	// Overwrite the record with garbage, as a foreign writer might.
	require.NoError(t, db.Bolt().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("ledger")).ForEachBucket(func(k []byte) error {
			return tx.Bucket([]byte("ledger")).Bucket(k).Put([]byte("p-1"), []byte("{not json"))
		})
	}))
	_, err := l.Get(ctx, dev, "p-1")
	require.ErrorIs(t, err, store.ErrDamaged)

	require.NoError(t, db.Close())
	require.ErrorIs(t, l.Put(ctx, dev, "p-1", []accessctl.LedgerEntry{{Kind: "card", Key: "1"}}), accessctl.ErrClosed)
	_, err = l.Persons(ctx, dev)
	require.ErrorIs(t, err, accessctl.ErrClosed)
}
