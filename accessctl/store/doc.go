// Package store is Menjin's one embedded state file: a bbolt database in
// a data directory that the outbox, the reconciler, hciotbolt and the
// drivers' credential ledger share, each in its own top-level bucket, so a
// host keeps everything it must not lose in dir/menjin.db.
//
// The credential ledger (DB.Ledger) records what drivers pushed to devices
// that cannot list what they hold, so that RemoveGrant after a restart
// still takes a person's cards off the device.
//
// Shortest use:
//
//	db, err := store.Open(dataDir)
//	defer db.Close()
//	edge := stdproto.NewEdge(stdproto.WithLedger(db.Ledger()))
//	ob, _ := outbox.New(db.Bolt(), sink)   // same file
//	rc, _ := reconcile.New(db.Bolt())      // same file
package store
