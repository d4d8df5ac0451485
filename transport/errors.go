package transport

import "errors"

// Sentinel errors. Wrapped errors keep them reachable with errors.Is.
var (
	// ErrClosed: the connection, server, client or pending table was closed.
	ErrClosed = errors.New("transport: closed")
	// ErrQueueFull: the bounded write queue had no room; the message was not
	// queued. Callers treat it like a timeout: the peer is not keeping up.
	ErrQueueFull = errors.New("transport: write queue full")
	// ErrTimeout: a request got no reply within its timeout, or a connection
	// saw no frame within its idle timeout.
	ErrTimeout = errors.New("transport: timeout")
	// ErrOffline: the peer went away while a request waited for its reply.
	ErrOffline = errors.New("transport: peer offline")
	// ErrReplaced: the device opened a newer connection that replaced this one.
	ErrReplaced = errors.New("transport: replaced by a newer connection")
	// ErrDuplicateID: a request id is already waiting for a reply.
	ErrDuplicateID = errors.New("transport: duplicate request id")
	// ErrMessageTooLarge: the peer sent a message above the read limit. The
	// connection is closed (WebSocket close code 1009).
	ErrMessageTooLarge = errors.New("transport: message exceeds read limit")
)
