package store

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// FileName is the state file in a data directory.
const FileName = "menjin.db"

// Option configures Open.
type Option func(*config)

type config struct {
	lockTimeout time.Duration
}

// WithLockTimeout bounds the wait for the file lock another process holds
// (default 2 s): a second gateway on the same directory fails instead of
// blocking forever.
func WithLockTimeout(d time.Duration) Option { return func(c *config) { c.lockTimeout = d } }

// DB is the open state file.
type DB struct {
	bolt *bbolt.DB
}

// Open creates dir if needed and opens dir/FileName.
func Open(dir string, opts ...Option) (*DB, error) {
	cfg := config{lockTimeout: 2 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.lockTimeout <= 0 {
		cfg.lockTimeout = 2 * time.Second // bbolt's 0 waits forever
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: cfg.lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &DB{bolt: b}, nil
}

// Bolt is the bbolt database, for the outbox (outbox.New), the reconciler
// (reconcile.New) and hciotbolt to share.
func (db *DB) Bolt() *bbolt.DB { return db.bolt }

// Path is the file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Ledger is the drivers' credential ledger kept in this file.
func (db *DB) Ledger() *Ledger { return &Ledger{db: db.bolt} }

// Close closes the file, after whatever uses it was closed.
func (db *DB) Close() error { return db.bolt.Close() }
