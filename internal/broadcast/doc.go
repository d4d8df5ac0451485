// Package broadcast tells waiters that state guarded by a mutex changed,
// so that they can wait for a condition with a context, which sync.Cond
// cannot do.
//
//	var mu sync.Mutex
//	var changed broadcast.Signal
//	// writer, holding mu:
//	queued--
//	changed.Notify()
//	// waiter:
//	err := changed.Wait(ctx, &mu, func() bool { return queued == 0 })
package broadcast
