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

// Sentinel errors, the same values as transport's of the same names.
var (
	// ErrClosed: the pending table (or the carrier using it) was closed.
	ErrClosed error = &carrierErr{msg: "transport: closed", offline: true}
	// ErrTimeout: a request got no reply within its timeout.
	ErrTimeout error = &carrierErr{msg: "transport: timeout", timeout: true}
	// ErrOffline: the peer went away while a request waited for its reply.
	ErrOffline error = &carrierErr{msg: "transport: peer offline", offline: true}
	// ErrDuplicateID: a request id is already waiting for a reply.
	ErrDuplicateID = errors.New("transport: duplicate request id")
)
