package intercom

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them, so
// callers branch with errors.Is.
var (
	// ErrMalformed: a body, header or packet from the wire could not be parsed.
	ErrMalformed = errors.New("intercom: malformed message")
	// ErrNoDialog: the request does not belong to a dialog we know (SIP 481).
	ErrNoDialog = errors.New("intercom: call/transaction does not exist")
	// ErrUnlockTimeout: no unlock result arrived within the 3 s budget (§6.2).
	ErrUnlockTimeout = errors.New("intercom: unlock timed out")
	// ErrUnlockRejected: the door answered with a JSON status other than 200.
	ErrUnlockRejected = errors.New("intercom: unlock rejected")
	// ErrUnlockDenied is returned by a policy hook to refuse an unlock.
	ErrUnlockDenied = errors.New("intercom: unlock denied by policy")
	// ErrUnlockDisabled is returned by a policy hook when unlocking is switched off (JSON status 503).
	ErrUnlockDisabled = errors.New("intercom: unlock disabled")
	// ErrAuthFailed: the registrar refused our credentials (second 401 or 403).
	ErrAuthFailed = errors.New("intercom: authentication failed")
	// ErrUnreachable: three OPTIONS probes to the registrar went unanswered (§8).
	ErrUnreachable = errors.New("intercom: registrar unreachable")
	// ErrCallFailed: the callee answered an INVITE with a final non-2xx response.
	ErrCallFailed = errors.New("intercom: call failed")
	// ErrBusy: too many calls or monitoring sessions (SIP 486).
	ErrBusy = errors.New("intercom: busy")
	// ErrClosed: the endpoint was closed.
	ErrClosed = errors.New("intercom: closed")
	// ErrTooLarge: a message would not fit one UDP datagram (sipgo refuses > 1300 bytes).
	ErrTooLarge = errors.New("intercom: message too large for UDP")
)

// StatusError carries a SIP or JSON status code and wraps a sentinel.
type StatusError struct {
	Kind   error // ErrUnlockRejected, ErrCallFailed, ErrAuthFailed, ...
	Status int
	Reason string
}

func (e *StatusError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%v: %d %s", e.Kind, e.Status, e.Reason)
	}
	return fmt.Sprintf("%v: status %d", e.Kind, e.Status)
}

func (e *StatusError) Unwrap() error { return e.Kind }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
