package parking

import (
	"errors"
	"fmt"

	"github.com/menjin/menjin/accessctl"
)

// Sentinel errors. Every one also matches accessctl.ErrInvalid where the
// input is at fault, so hosts can test either.
var (
	// ErrSyntax: the payload is not well-formed JSON.
	ErrSyntax = errors.New("parking: malformed JSON")
	// ErrMissing: a required field is absent.
	ErrMissing = errors.New("parking: required field missing")
	// ErrTooLong: a text or payload exceeds its limit (2048, 128 ...).
	ErrTooLong = errors.New("parking: too long")
	// ErrOutOfRange: a number is outside its documented range.
	ErrOutOfRange = errors.New("parking: out of range")
	// ErrUnknownValue: an enum value the spec does not define.
	ErrUnknownValue = errors.New("parking: unknown value")
	// ErrBadType: a field has the wrong JSON type.
	ErrBadType = errors.New("parking: wrong type")
	// ErrWrongMode: a separated-mode service on a mixed-mode screen or the
	// other way round (§11 item 9).
	ErrWrongMode = errors.New("parking: not supported in this LED mode")
	// ErrVehiclePresent: a close was refused because a vehicle is under
	// the barrier (§11 item 19).
	ErrVehiclePresent = errors.New("parking: vehicle under the barrier")
	// ErrKeepOpen: an automatic close was refused because the barrier was
	// explicitly kept open (§11 item 18).
	ErrKeepOpen = errors.New("parking: barrier is kept open")
	// ErrUnknownService: an invoke named a service the camera does not have.
	ErrUnknownService = errors.New("parking: unknown service")
)

// FieldError says which field of which payload was wrong and why. It
// matches its Err sentinel and accessctl.ErrInvalid with errors.Is.
type FieldError struct {
	Payload string // "LedData", "NoticeDisplay", "permission file", ...
	Field   string // wire name, with a path for nested fields ("ContextList[3].CustomContext")
	Err     error  // one of the sentinels above
	Detail  string
}

func (e *FieldError) Error() string {
	s := e.Err.Error()
	if e.Payload != "" {
		s += " in " + e.Payload
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FieldError) Unwrap() []error { return []error{e.Err, accessctl.ErrInvalid} }

func fieldErr(payload, field string, err error, format string, args ...any) error {
	return &FieldError{Payload: payload, Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
}
