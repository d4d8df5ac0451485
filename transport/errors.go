package transport

import (
	"errors"

	"github.com/menjin/menjin/transport/rpc"
)

// Sentinel errors. Wrapped errors keep them reachable with errors.Is.
var (
	// ErrClosed: the connection, server, client or pending table was closed.
	ErrClosed = rpc.ErrClosed
	// ErrQueueFull: the bounded write queue had no room; the message was not
	// queued. Callers treat it like a timeout: the peer is not keeping up.
	ErrQueueFull = rpc.NewError("transport: write queue full", false, true)
	// ErrTimeout: a request got no reply within its timeout, or a connection
	// saw no frame within its idle timeout.
	ErrTimeout = rpc.ErrTimeout
	// ErrOffline: the peer went away while a request waited for its reply.
	ErrOffline = rpc.ErrOffline
	// ErrReplaced: the device opened a newer connection that replaced this one.
	ErrReplaced = rpc.NewError("transport: replaced by a newer connection", true, false)
	// ErrDuplicateID: a request id is already waiting for a reply.
	ErrDuplicateID = rpc.ErrDuplicateID
	// ErrMessageTooLarge: the peer sent a message above the read limit. The
	// connection is closed (WebSocket close code 1009).
	ErrMessageTooLarge = errors.New("transport: message exceeds read limit")
)
