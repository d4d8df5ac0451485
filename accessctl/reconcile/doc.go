// Package reconcile keeps the persons and credentials that door devices hold
// equal to what the host wants, whatever the devices went through: offline
// for a week, a reboot that lost half the users, a photo they refused.
//
// The host states the desired grants — Put (to the devices of a grant's
// Devices, a door group), Set (the whole list of one device), Remove. Each
// device attached with Attach gets one goroutine that diffs the desired
// state against what the device holds and pushes the difference through its
// accessctl.PermissionSync, with a bounded number of calls in flight per
// device (WithConcurrency). What a device holds is read with ListGrants where
// the device implements accessctl.GrantLister; otherwise the reconciler's
// ledger of what it pushed stands in. After a reconnect a device that
// implements accessctl.GrantGetter is asked about each person the ledger
// has, and what it lost is pushed again; any other device gets every
// wanted grant again, because nothing can say what it kept.
//
// Attaching never deletes before the host said what it wants. Persons a
// device holds that the host never asked for are removed only once the host
// declared the device's desired state complete: Set (the whole list of one
// device) does so, and so does Declare after the Puts of a door group.
// Until then — a device attached at start-up before the host loaded its
// grants — they are left alone; with WithKeepUnknown, always. So the safe
// order is Attach (or Put) in any order, then Set or Declare.
//
// What a device says it holds beats what the reconciler remembers: a
// device that can list (or read back) is asked on every resync and a person
// it lacks is pending again, whatever was applied before; a device that
// reports it lost its users (Reset, WithResetEvents) has its grants pending
// and pushed again.
//
// Every (person, device) pair has an accessctl.SyncStatus with the states of
// accessctl/PLATFORMS.md §4.3: pending, in_flight, applied, removed,
// retryable_failure (offline, timeout: retried with backoff), invalid_input
// (the device refused the data: fix the grant and Put it again) and
// needs_manual (WithMaxAttempts failures in a row: a person must look, then
// Retry). Calls that fail with accessctl.ErrOffline sent nothing and do not
// count as attempts.
//
// The desired state, the ledger and the statuses live in bbolt and are
// written before each round of calls (in flight) and after it (outcomes):
// after a crash, a restarted process resumes, and pairs that were in flight
// are looked at again (the calls are idempotent by person id).
//
// The reconciler learns of reconnects through events: Watch wraps the
// host's sink (or Handle takes the events, as an accessctl.EventSink).
// Drivers report accessctl.KindOnline on every fresh session or
// registration, also inside their offline window (a terminal that rebooted
// faster than it was missed), and every such event resyncs the device; an
// offline event stops calling it while it is away.
//
//	rc, err := reconcile.New(db.Bolt())  // db from store.Open, shared with the outbox
//	srv := wsterm.NewServer(wsterm.WithSink(rc.Watch(ob))) // online events reach rc, all reach ob
//	rc.Attach(devRef, dev.(accessctl.PermissionSync))
//	rc.Put(ctx, grant)          // grant.Devices says where; or Set per device
//	rc.Declare(ctx, devRef)     // all Put: strangers may now be removed
//	st, _ := rc.Status(devRef, grant.Person)
package reconcile
