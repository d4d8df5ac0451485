package accessctl

import (
	"context"
	"encoding/json"
	"time"
)

// Decider answers a device that must be told now whether to let someone in:
// a QR code scanned at a door that asks its edge, a plate at a barrier. It
// must answer within ctx's deadline; the device's own timeout is short.
type Decider interface {
	Decide(ctx context.Context, r DecisionRequest) (Decision, error)
}

// DeciderFunc adapts a function to a Decider.
type DeciderFunc func(ctx context.Context, r DecisionRequest) (Decision, error)

// Decide calls f(ctx, r).
func (f DeciderFunc) Decide(ctx context.Context, r DecisionRequest) (Decision, error) {
	return f(ctx, r)
}

// DecisionRequest is what was presented, where and when.
type DecisionRequest struct {
	Device     DeviceRef
	Credential Credential
	Direction  Direction
	At         time.Time
	Snapshot   *Image
	Raw        json.RawMessage
}

// Decision is the answer: let in or not, the verdict to record, and what the
// device should show and say.
type Decision struct {
	Allow          bool
	Result         Result
	Person         *PersonRef
	Name           string
	Display        []string // lines for a screen
	Voice          string   // text to speak
	RemainingScans *int
	// Credential is what was decided on when it differs from what was
	// presented: the code decoded from a signed QR text.
	Credential string
	// Extra carries protocol fields a decider may fill (a faceId, a photoId).
	Extra map[string]string
}
