package accessctl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

// carrierErr plays a carrier package's own error type.
type carrierErr struct {
	offline, timeout, closed bool
	code                     string
}

func (e carrierErr) Error() string { return "carrier" }
func (e carrierErr) Offline() bool { return e.offline }
func (e carrierErr) Timeout() bool { return e.timeout }
func (e carrierErr) Closed() bool  { return e.closed }

type rejection struct{ code, msg string }

func (e rejection) Error() string                     { return "carrier refused" }
func (e rejection) Rejection() (code, message string) { return e.code, e.msg }

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

func TestMapTransportError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: unchanged class (no sentinel added)
	}{
		{"deadline", context.DeadlineExceeded, accessctl.ErrTimeout},
		{"wrapped deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), accessctl.ErrTimeout},
		{"net.Error timeout", netTimeout{}, accessctl.ErrTimeout},
		{"url.Error timeout", &url.Error{Op: "Post", URL: "http://x", Err: netTimeout{}}, accessctl.ErrTimeout},
		{"url.Error deadline", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, accessctl.ErrTimeout},
		{"carrier timeout", carrierErr{timeout: true}, accessctl.ErrTimeout},
		{"net.ErrClosed", fmt.Errorf("read: %w", net.ErrClosed), accessctl.ErrOffline},
		{"EOF", io.EOF, accessctl.ErrOffline},
		{"unexpected EOF", io.ErrUnexpectedEOF, accessctl.ErrOffline},
		{"connection refused", refused, accessctl.ErrOffline},
		{"connection reset", syscall.ECONNRESET, accessctl.ErrOffline},
		{"url.Error refused", &url.Error{Op: "Post", URL: "http://x", Err: refused}, accessctl.ErrOffline},
		{"carrier offline", carrierErr{offline: true}, accessctl.ErrOffline},
		{"carrier closed", carrierErr{closed: true}, accessctl.ErrClosed},
		{"carrier rejection", fmt.Errorf("reply: %w", rejection{"6813", "lock driver failed"}), accessctl.ErrRejected},
		{"already offline", fmt.Errorf("%w: x", accessctl.ErrOffline), accessctl.ErrOffline},
		{"already invalid", fmt.Errorf("%w: x", accessctl.ErrInvalid), accessctl.ErrInvalid},
		{"already rejected", accessctl.Rejected("op", "1", "no"), accessctl.ErrRejected},
		{"cancelled", context.Canceled, context.Canceled},
		{"unknown", errors.New("something else"), nil},
		{"carrier says nothing", carrierErr{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := accessctl.MapTransportError("addUser", tc.err)
			require.Error(t, got)
			assert.ErrorIs(t, got, tc.err, "the carrier's error stays in the chain")
			assert.Contains(t, got.Error(), "addUser")
			sentinels := []error{accessctl.ErrOffline, accessctl.ErrTimeout, accessctl.ErrRejected,
				accessctl.ErrClosed, accessctl.ErrInvalid}
			for _, s := range sentinels {
				assert.Equal(t, s == tc.want, errors.Is(got, s), "errors.Is(%v, %v)", got, s)
			}
		})
	}
	assert.NoError(t, accessctl.MapTransportError("op", nil))

	var re *accessctl.RejectedError
	require.ErrorAs(t, accessctl.MapTransportError("unlock", rejection{"6813", "lock driver failed"}), &re)
	assert.Equal(t, accessctl.RejectedError{Op: "unlock", Code: "6813", Message: "lock driver failed"}, *re)
	assert.ErrorIs(t, accessctl.MapTransportError("op", context.DeadlineExceeded), context.DeadlineExceeded,
		"callers can still tell a deadline")
}

func TestDeliveryCounter(t *testing.T) {
	var c accessctl.DeliveryCounter
	refuse := true
	sink := accessctl.EventSinkFunc(func(context.Context, accessctl.Event) error {
		if refuse {
			return errors.New("down")
		}
		return nil
	})
	ctx := context.Background()
	require.Error(t, c.Deliver(ctx, sink, accessctl.Event{ID: "a"}))
	require.Error(t, c.Deliver(ctx, sink, accessctl.Event{ID: "a"}))
	refuse = false
	require.NoError(t, c.Deliver(ctx, sink, accessctl.Event{ID: "a"}))
	require.NoError(t, c.Deliver(ctx, sink, accessctl.Event{ID: "b"}))
	c.Drop()
	assert.Equal(t, accessctl.DeliveryStats{Delivered: 2, Refused: 2, Retried: 1, Dropped: 1}, c.Stats())

	refuse = true
	for i := range 5000 { // remembering refused ids is bounded
		_ = c.Deliver(ctx, sink, accessctl.Event{ID: fmt.Sprint(i)})
	}
	refuse = false
	require.NoError(t, c.Deliver(ctx, sink, accessctl.Event{ID: "4999"}))
	require.NoError(t, c.Deliver(ctx, sink, accessctl.Event{ID: "0"}))
	assert.Equal(t, uint64(2), c.Stats().Retried, "the newest refused id is remembered, the oldest forgotten")
}
