package reconcile

// SkipFsync makes r's commits skip fsync. The tests share a disk with many
// builds, where one fsync can take most of a second; what they prove is
// the reconciler's logic and crash-resume (the page cache outlives the
// process), not durability across a power cut. Call it before r is used.
func SkipFsync(r *Reconciler) { r.db.NoSync = true }
