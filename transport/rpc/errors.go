package rpc

import "errors"

// carrierErr marks a sentinel with what it means to accessctl.MapTransportError
// (Offline, Timeout), so neither the core nor this package imports the other.
type carrierErr struct {
	msg              string
	offline, timeout bool
}

func (e *carrierErr) Error() string { return e.msg }

// Offline: the connection is gone; nothing more reaches the peer.
func (e *carrierErr) Offline() bool { return e.offline }

// Timeout: the peer did not answer or keep up in time.
func (e *carrierErr) Timeout() bool { return e.timeout }

// NewError makes a sentinel error marked with what it means to
// accessctl.MapTransportError: offline (the peer is gone) or timeout (it did
// not answer or keep up in time). Carrier packages use it for their own.
func NewError(msg string, offline, timeout bool) error {
	return &carrierErr{msg: msg, offline: offline, timeout: timeout}
}

// Sentinel errors, the same values as transport's of the same names.
var (
	// ErrClosed: the pending table (or the carrier using it) was closed.
	ErrClosed = NewError("transport: closed", true, false)
	// ErrTimeout: a request got no reply within its timeout.
	ErrTimeout = NewError("transport: timeout", false, true)
	// ErrOffline: the peer went away while a request waited for its reply.
	ErrOffline = NewError("transport: peer offline", true, false)
	// ErrDuplicateID: a request id is already waiting for a reply.
	ErrDuplicateID = errors.New("transport: duplicate request id")
)
