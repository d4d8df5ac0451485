package accessctl

import (
	"context"
	"errors"
	"time"
)

var errorsIs = errors.Is

// SyncState is the normalized state of one grant on one device, whatever the
// platform's own codes (PLATFORMS.md §4.3).
type SyncState string

const (
	SyncPending          SyncState = "pending"           // wanted, not yet sent
	SyncInFlight         SyncState = "in_flight"         // sent, no answer yet
	SyncApplied          SyncState = "applied"           // the device holds it
	SyncRemoved          SyncState = "removed"           // the device no longer holds it
	SyncRetryableFailure SyncState = "retryable_failure" // offline, timeout, 5xx: will be retried
	SyncInvalidInput     SyncState = "invalid_input"     // the device refused the data (a bad photo): fix the input
	SyncNeedsManual      SyncState = "needs_manual"      // retries exhausted: a person must look
	SyncUnknown          SyncState = "unknown"           // an answer nobody documented
)

// SyncOp is what was asked of the device.
type SyncOp string

const (
	OpUpsert SyncOp = "upsert"
	OpDelete SyncOp = "delete"
	OpClear  SyncOp = "clear"
)

// SyncStatus reports one (person, device) pair.
type SyncStatus struct {
	Person        PersonRef `json:"person"`
	Device        DeviceRef `json:"device"`
	Op            SyncOp    `json:"op"`
	State         SyncState `json:"state"`
	CorrelationID string    `json:"correlationId,omitempty"`
	Code          string    `json:"code,omitempty"`    // the platform's or device's raw code
	Message       string    `json:"message,omitempty"` // and text
	Attempts      int       `json:"attempts"`
	FirstAttempt  time.Time `json:"firstAttempt,omitzero"`
	LastAttempt   time.Time `json:"lastAttempt,omitzero"`
}

// SyncStateOf maps the error of a PutGrant or RemoveGrant to the state the
// grant is in after it: nil is applied (or removed, for op delete); offline
// and timeouts are retried; refusals and invalid input need new input.
func SyncStateOf(op SyncOp, err error) SyncState {
	switch {
	case err == nil && op == OpDelete:
		return SyncRemoved
	case err == nil:
		return SyncApplied
	case errorsIs(err, ErrOffline), errorsIs(err, ErrTimeout), errorsIs(err, ErrClosed),
		errorsIs(err, context.DeadlineExceeded), errorsIs(err, context.Canceled):
		return SyncRetryableFailure
	case errorsIs(err, ErrRejected), errorsIs(err, ErrInvalid), errorsIs(err, ErrUnsupported):
		return SyncInvalidInput
	}
	return SyncUnknown
}
