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
// ledger of what it pushed stands in, and after a reconnect every wanted
// grant is pushed again, because nothing can say what such a device kept.
//
// The desired state is the whole truth for an attached device: persons it
// holds that nobody wants are removed, unless WithKeepUnknown.
//
// Every (person, device) pair has an accessctl.SyncStatus with the states of
// platform-integrations.md §4.3: pending, in_flight, applied, removed,
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
// The reconciler is an accessctl.EventSink for device status: feed it the
// drivers' online and offline events (accessctl.FanOut) and it resyncs a
// device as soon as it is back, and stops calling it while it is away.
//
//	rc, err := reconcile.New(db.Bolt()) // db from store.Open, shared with the outbox
//	rc.Attach(accessctl.DeviceRef{ID: dev.ID()}, dev.(accessctl.PermissionSync))
//	rc.Put(ctx, grant) // grant.Devices says where
//	st, _ := rc.Status(devRef, grant.Person)
package reconcile
