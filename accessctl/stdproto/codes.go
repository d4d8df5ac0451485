package stdproto

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/menjin/menjin/accessctl"
)

// Result codes of the protocol's response envelope (spec B.12).
const (
	CodeOK            = 0  // success
	CodeAuthFailed    = 1  // face or QR authentication failed
	CodeTokenInvalid  = 4  // token invalid: the sender must /connect again
	CodeBadParam      = 5  // parameter error (on /faceAC/passEvent: photo content invalid)
	CodeBadSign       = 6  // signature check failed
	CodeIllegalDevice = 7  // the terminal is not configured on the edge
	CodeOther         = 99 // anything else; "unsupported" and "rate limited" by SDK convention
)

// Messages the source gives for its codes; the others are ours.
const (
	MsgSuccess     = "success"
	MsgOffline     = "device is offline"
	MsgBadSign     = "verify sign error"
	MsgIllegal     = "device is illegal"
	MsgUnsupported = "unsupported"
	MsgRateLimited = "rate limited"
)

// Sentinel errors of this package. Errors from the wire also match the core
// sentinels (accessctl.ErrRejected, ErrUnsupported, ErrOffline, ErrTimeout).
var (
	// ErrTokenInvalid: the peer answered code 4. The caller reconnects and
	// retries once; after that the error also matches accessctl.ErrOffline.
	ErrTokenInvalid = errors.New("stdproto: token invalid")
	// ErrBadSign: a /connect sign did not match (code 6).
	ErrBadSign = errors.New("stdproto: sign mismatch")
	// ErrNotProvisioned: the terminal is not configured on the edge (code 7).
	ErrNotProvisioned = errors.New("stdproto: terminal not provisioned")
	// ErrBadRequest: a message could not be decoded or failed validation
	// (code 5). It also matches accessctl.ErrInvalid.
	ErrBadRequest = errors.New("stdproto: bad request")
	// ErrProtocol: the peer's answer was not a protocol envelope.
	ErrProtocol = errors.New("stdproto: protocol error")
)

// CodeError is a non-zero code in a response envelope. It matches
// accessctl.ErrRejected, and in addition ErrTokenInvalid for code 4,
// accessctl.ErrUnsupported for 99 "unsupported", ErrBadSign for 6 and
// ErrNotProvisioned for 7. A *accessctl.RejectedError is in its chain.
type CodeError struct {
	Path    string // the interface, e.g. "/remoteOpen"
	Code    int
	Message string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("stdproto: %s answered code %d (%s)", e.Path, e.Code, describe(e.Path, e.Code, e.Message))
}

// Is maps codes to sentinels.
func (e *CodeError) Is(target error) bool {
	switch target {
	case ErrTokenInvalid:
		return e.Code == CodeTokenInvalid
	case accessctl.ErrUnsupported:
		return e.Code == CodeOther && e.Message == MsgUnsupported
	case ErrBadSign:
		return e.Code == CodeBadSign
	case ErrNotProvisioned:
		return e.Code == CodeIllegalDevice
	case accessctl.ErrRejected:
		return e.Code != CodeTokenInvalid
	}
	return false
}

// Unwrap exposes the core's RejectedError (with the code as text), so that
// errors.As(err, **accessctl.RejectedError) works like for other drivers.
func (e *CodeError) Unwrap() error {
	if e.Code == CodeTokenInvalid {
		return nil
	}
	return &accessctl.RejectedError{Op: e.Path, Code: strconv.Itoa(e.Code), Message: e.Message}
}

// describe surfaces the interface-specific meaning of a code (spec C.B.18).
func describe(path string, code int, msg string) string {
	var m string
	switch code {
	case CodeAuthFailed:
		m = "authentication failed"
	case CodeTokenInvalid:
		m = "token invalid"
	case CodeBadParam:
		m = "parameter error"
		if path == PathFacePassEvent {
			m = "face photo content invalid"
		}
	case CodeBadSign:
		m = "sign mismatch"
	case CodeIllegalDevice:
		m = "terminal not configured on the edge"
	default:
		m = "other error"
	}
	if msg != "" {
		m += ": " + msg
	}
	return m
}

// paramError is a decoding or validation failure, answered with code 5.
type paramError struct{ msg string }

func (e *paramError) Error() string { return "stdproto: bad request: " + e.msg }
func (e *paramError) Is(target error) bool {
	return target == ErrBadRequest || target == accessctl.ErrInvalid
}

func badParam(format string, args ...any) error {
	return &paramError{msg: fmt.Sprintf(format, args...)}
}
