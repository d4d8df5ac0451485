package hciot

import "context"

// SentLog is the uploader's durable record of the events it has sent, so
// that an event redelivered after a restart (an outbox replaying what it
// had not yet marked delivered) is not uploaded twice: HC has no
// idempotency key and inserts a row per call.
//
// Begin is called, and must be durable, before the HTTP call; Done after HC
// answered code 0. An id found in the state Sending was begun by a run that
// died before recording HC's answer: whether HC has it is unknown.
type SentLog interface {
	State(ctx context.Context, id string) (SentState, error)
	Begin(ctx context.Context, id string) error
	Done(ctx context.Context, id string) error
}

// SentState is what a SentLog knows of an event id.
type SentState int

const (
	NotSent SentState = iota // never begun (or forgotten after the retention)
	Sending                  // begun, HC's answer not recorded
	Sent                     // HC answered code 0
)

// WithSentLog makes the uploader's record of what it sent durable (default:
// the in-memory WithDedupWindow only, lost on restart).
//
// The remaining window: a crash after HC wrote its row and before Done is
// fsync'd leaves the id Sending. HC's IoT API has no query for open-door
// records (spec §1, "Duplicate uploads"), so the uploader cannot ask; it uploads a Sending id again (at
// least once: a pass HC never got is worse than a duplicate row) and counts
// it in UploaderStats.Resent (ids this process began and saw fail are
// retried without counting). Begin narrows the unknown to that window.
func WithSentLog(l SentLog) UploaderOption { return func(u *Uploader) { u.sentLog = l } }
