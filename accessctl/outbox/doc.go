// Package outbox is a durable store-and-forward EventSink: events a device
// reported reach the platform even when the platform, the network or the
// gateway process was down when they arrived.
//
// Handle appends the event to an embedded bbolt database and returns nil
// only after the write is fsync'd, so a driver that acknowledges the device
// after Handle returns never acknowledges an event that a kill -9 or a power
// cut can lose. Concurrent appends share one commit (group commit).
//
// Goroutines deliver stored events to the next sink in order per device
// (devices proceed independently), retry failures with jittered backoff,
// and move events the sink refuses for good (accessctl.Permanent) to a
// dead-letter area the host lists (Dead), replays (Replay) or discards
// (Discard). Delivery is at least once: after a crash the events delivered
// but not yet marked are delivered again, with the same Event.ID, which the
// sink uses as its idempotency key. An event without an ID gets one before
// it is stored.
//
// Disk use is bounded (WithMaxEvents, WithMaxBytes, counting queued and dead
// events). When the bound is reached Handle refuses new events with ErrFull
// and stores nothing: the driver does not acknowledge, the device keeps the
// event and sends it again later. Nothing already stored is evicted. An
// event larger than the whole byte bound gets ErrTooLarge, marked
// accessctl.Permanent.
//
// The shortest use, in front of an uploader:
//
//	ob, err := outbox.Open(dataDir, uploader)
//	if err != nil { ... }
//	defer ob.Close(ctx) // drains until ctx ends; the rest stays on disk
//	srv := wsterm.NewServer(wsterm.WithSink(ob)) // the driver acks a device once ob stored it
//
// One state file serves a whole host (accessctl/store): the outbox, the
// reconciler and the drivers' credential ledger each keep their own bucket.
//
//	db, err := store.Open(dataDir)
//	ob, err := outbox.New(db.Bolt(), uploader)
//	rc, err := reconcile.New(db.Bolt())
//	edge := stdproto.NewEdge(stdproto.WithLedger(db.Ledger()))
package outbox
