package transport

import (
	"errors"

	"github.com/menjin/menjin/transport/rpc"
)

// carrierErr marks a sentinel with what it means to accessctl.MapTransportError
// (Offline, Timeout), so the core need not import this package.
type carrierErr struct {
	msg              string
	offline, timeout bool
}

func (e *carrierErr) Error() string { return e.msg }

// Offline: the connection is gone; nothing more reaches the peer.
func (e *carrierErr) Offline() bool { return e.offline }

// Timeout: the peer did not answer or keep up in time.
func (e *carrierErr) Timeout() bool { return e.timeout }

// Sentinel errors. Wrapped errors keep them reachable with errors.Is.
var (
	// ErrClosed: the connection, server, client or pending table was closed.
	ErrClosed = rpc.ErrClosed
	// ErrQueueFull: the bounded write queue had no room; the message was not
	// queued. Callers treat it like a timeout: the peer is not keeping up.
	ErrQueueFull error = &carrierErr{msg: "transport: write queue full", timeout: true}
	// ErrTimeout: a request got no reply within its timeout, or a connection
	// saw no frame within its idle timeout.
	ErrTimeout = rpc.ErrTimeout
	// ErrOffline: the peer went away while a request waited for its reply.
	ErrOffline = rpc.ErrOffline
	// ErrReplaced: the device opened a newer connection that replaced this one.
	ErrReplaced error = &carrierErr{msg: "transport: replaced by a newer connection", offline: true}
	// ErrDuplicateID: a request id is already waiting for a reply.
	ErrDuplicateID = rpc.ErrDuplicateID
	// ErrMessageTooLarge: the peer sent a message above the read limit. The
	// connection is closed (WebSocket close code 1009).
	ErrMessageTooLarge = errors.New("transport: message exceeds read limit")
)
