package accessctl

import (
	"errors"
	"fmt"
)

// Sentinel errors. Drivers wrap them with detail; callers test with errors.Is.
var (
	// ErrOffline: the device is not connected now. Nothing was sent; the
	// same call may succeed after the device reconnects.
	ErrOffline = errors.New("accessctl: device offline")
	// ErrTimeout: the device did not answer in time. The command may still
	// have been applied: treat the outcome as unknown and verify later.
	ErrTimeout = errors.New("accessctl: device did not answer in time")
	// ErrUnsupported: the device or its protocol lacks this capability.
	// Retrying cannot help.
	ErrUnsupported = errors.New("accessctl: not supported by this device")
	// ErrRejected: the device answered and refused. A *RejectedError in the
	// chain carries the device's own code and text.
	ErrRejected = errors.New("accessctl: rejected by device")
	// ErrNotFound: the device does not know the person, user or record asked
	// for (or cannot say whether it does).
	ErrNotFound = errors.New("accessctl: not found")
	// ErrClosed: the device handle, server or sink was closed.
	ErrClosed = errors.New("accessctl: closed")
	// ErrUnknownDriver: no driver is registered under the name given to Open.
	ErrUnknownDriver = errors.New("accessctl: unknown driver")
	// ErrInvalid: the request is malformed before anything was sent.
	ErrInvalid = errors.New("accessctl: invalid request")
)

// RejectedError is a refusal by the device, with the device's code kept
// verbatim (protocols use strings such as "500" as well as numbers).
type RejectedError struct {
	Op      string // the command, e.g. "addUser"
	Code    string // the device's result code, verbatim
	Message string // the device's text, if any
}

func (e *RejectedError) Error() string {
	msg := "accessctl: rejected by device"
	if e.Op != "" {
		msg += ": " + e.Op
	}
	msg += fmt.Sprintf(" (code %s)", e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes errors.Is(err, ErrRejected) true for every *RejectedError.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Rejected returns a *RejectedError.
func Rejected(op, code, message string) error {
	return &RejectedError{Op: op, Code: code, Message: message}
}
