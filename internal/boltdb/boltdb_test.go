package boltdb_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/boltdb"
)

func TestOpenCreatesAndLocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	db, err := boltdb.Open(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, boltdb.FileName), db.Path())
	// A second open of the same file in this process waits for the lock and
	// gives up, as a second gateway on the same -data dir would.
	start := time.Now()
	_, err = boltdb.Open(dir)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	require.NoError(t, db.Close())
	db, err = boltdb.Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}
