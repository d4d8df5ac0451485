// Package boltdb opens Menjin's one on-disk state file, shared by the outbox
// and the reconciler (each keeps its own top-level bucket).
package boltdb

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// FileName is the state file in a data directory.
const FileName = "menjin.db"

// Open creates dir if needed and opens dir/FileName. A second process on the
// same directory fails after a short wait instead of blocking forever on
// bbolt's file lock.
func Open(dir string) (*bbolt.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, FileName), err)
	}
	return db, nil
}
