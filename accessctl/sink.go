package accessctl

import (
	"context"
	"errors"
	"fmt"
)

// EventSink receives what devices report. Handle returns nil once the sink
// has taken responsibility for the event; a driver that gets an error does
// not acknowledge the event to the device where the protocol allows it, so
// that the device reports it again. Sinks must therefore tolerate the same
// event (same Event.ID) more than once.
//
// A sink may keep the event, and what its pointers point to, after Handle
// returns (a buffer or an outbox delivers later): callers must not modify an
// event once they handed it over.
type EventSink interface {
	Handle(ctx context.Context, e Event) error
}

// EventSinkFunc adapts a function to an EventSink.
type EventSinkFunc func(ctx context.Context, e Event) error

// Handle calls f(ctx, e).
func (f EventSinkFunc) Handle(ctx context.Context, e Event) error { return f(ctx, e) }

// Discard accepts every event and does nothing with it.
var Discard EventSink = EventSinkFunc(func(context.Context, Event) error { return nil })

// FanOut delivers every event to each sink in order. It tries every sink even
// when one fails and returns the failures joined; the caller's redelivery
// then reaches the sinks that succeeded again, which the idempotency key
// makes harmless.
func FanOut(sinks ...EventSink) EventSink {
	sinks = append([]EventSink(nil), sinks...)
	return EventSinkFunc(func(ctx context.Context, e Event) error {
		var errs []error
		for i, s := range sinks {
			if err := s.Handle(ctx, e); err != nil {
				errs = append(errs, fmt.Errorf("sink %d: %w", i, err))
			}
		}
		return errors.Join(errs...)
	})
}

// Filter passes to next only the events for which keep returns true; the
// others are accepted and dropped on purpose.
func Filter(next EventSink, keep func(Event) bool) EventSink {
	return EventSinkFunc(func(ctx context.Context, e Event) error {
		if !keep(e) {
			return nil
		}
		return next.Handle(ctx, e)
	})
}

// KindIs is a Filter predicate that keeps the given kinds.
func KindIs(kinds ...EventKind) func(Event) bool {
	return func(e Event) bool {
		for _, k := range kinds {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

// permanentError marks a delivery failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as a failure that retrying cannot fix (a malformed
// event, a platform that refuses it for good). Retrying middleware such as
// Buffer gives up on such an event at once and reports it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
