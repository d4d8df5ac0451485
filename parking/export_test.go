package parking

import "context"

// AutoClose submits a close as a lane decision would, for tests of the
// keep-open rule.
func AutoClose(ctx context.Context, l *Lane) error {
	return l.gate.submit(ctx, GateClose, true, false).err
}
