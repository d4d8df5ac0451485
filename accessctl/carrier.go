package accessctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// Carrier packages (WebSocket, MQTT, HTTP, SIP transports) mark their own
// errors with these small interfaces so that MapTransportError can classify
// them without the core importing any carrier library. Each method returns
// true when the error means what its name says.
type (
	// OfflineError: the peer is not connected; nothing was sent.
	OfflineError interface{ Offline() bool }
	// TimeoutError: no answer in time (net.Error has the same method).
	TimeoutError interface{ Timeout() bool }
	// ClosedError: this side (host, server, client) was closed.
	ClosedError interface{ Closed() bool }
	// RejectionError: the peer answered and refused, with its own code.
	RejectionError interface{ Rejection() (code, message string) }
)

// MapTransportError is the one mapping from carrier errors to the contract
// every driver returns: a refusal with a code is a *RejectedError
// (ErrRejected), a missed deadline ErrTimeout, a connection that is gone or
// cannot be made ErrOffline, a closed handle ErrClosed. The carrier's error
// stays in the chain. Errors that already carry an accessctl sentinel, a
// cancelled context and errors it cannot classify come back unchanged apart
// from op; nil stays nil.
func MapTransportError(op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		rj RejectionError
		to TimeoutError
		of OfflineError
		cl ClosedError
	)
	switch {
	case isContract(err), errors.Is(err, context.Canceled):
		return opErr(op, err)
	case errors.As(err, &rj):
		code, msg := rj.Rejection()
		return fmt.Errorf("%w: %w", Rejected(op, code, msg), err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &to) && to.Timeout():
		return fmt.Errorf("%w: %s: %w", ErrTimeout, op, err)
	case errors.As(err, &cl) && cl.Closed():
		return fmt.Errorf("%w: %s: %w", ErrClosed, op, err)
	case errors.As(err, &of) && of.Offline(), isGone(err):
		return fmt.Errorf("%w: %s: %w", ErrOffline, op, err)
	}
	return opErr(op, err)
}

func opErr(op string, err error) error {
	if op == "" {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isContract(err error) bool {
	for _, s := range []error{ErrOffline, ErrTimeout, ErrRejected, ErrClosed, ErrInvalid, ErrUnsupported, ErrNotFound} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// isGone: the connection closed, was refused or reset, or the request never
// left (an HTTP client error that is not a timeout).
func isGone(err error) bool {
	var (
		ue *url.Error
		oe *net.OpError
	)
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &ue) || errors.As(err, &oe)
}
