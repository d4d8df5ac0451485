package transport

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	var r Registry[*int]
	a, b := new(int), new(int)
	_, replaced := r.Put("sn", a)
	assert.False(t, replaced)
	_, replaced = r.Put("sn", a)
	assert.False(t, replaced, "same session again")
	old, replaced := r.Put("sn", b)
	assert.True(t, replaced)
	assert.Same(t, a, old)
	assert.False(t, r.Remove("sn", a), "stale session cannot unregister its replacement")
	got, ok := r.Get("sn")
	assert.True(t, ok)
	assert.Same(t, b, got)
	assert.Len(t, r.Snapshot(), 1)
	assert.True(t, r.Remove("sn", b))
	assert.Equal(t, 0, r.Len())
	assert.Equal(t, uint64(1), r.Replaced())
}

// session is what a carrier keeps per device: the connection and its
// pending requests. It shows the replace-on-reconnect contract end to end.
type session struct {
	conn    *Conn
	pending Pending[string]
}

func TestReconnectReplacesStaleSession(t *testing.T) {
	var reg Registry[*session]
	srv := NewServer(func(c *Conn, r *http.Request) Handler {
		s := &session{conn: c}
		return &sessionHandler{s: s, reg: &reg}
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	dev1, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	require.NoError(t, dev1.Send([]byte("dev-1")))
	require.Eventually(t, func() bool { return reg.Len() == 1 }, 5*time.Second, 5*time.Millisecond)
	first, _ := reg.Get("dev-1")
	call, err := first.pending.Add("cmd-1")
	require.NoError(t, err)

	dev1again, err := Dial(context.Background(), wsURL(ts, "/"), newInbox())
	require.NoError(t, err)
	require.NoError(t, dev1again.Send([]byte("dev-1")))
	_, err = call.Wait(context.Background(), 5*time.Second)
	assert.ErrorIs(t, err, ErrOffline)
	assert.ErrorIs(t, err, ErrReplaced)
	closed(t, first.conn)
	cur, ok := reg.Get("dev-1")
	require.True(t, ok)
	assert.NotSame(t, first, cur)
	assert.Equal(t, uint64(1), reg.Replaced())
	_ = dev1.Close()
	_ = dev1again.Close()
	closed(t, dev1)
	closed(t, dev1again)
}

type sessionHandler struct {
	s   *session
	reg *Registry[*session]
	id  string
}

func (h *sessionHandler) HandleMessage(c *Conn, msg []byte) {
	h.id = string(msg)
	if old, replaced := h.reg.Put(h.id, h.s); replaced {
		old.pending.Close(fmt.Errorf("%w: %w", ErrOffline, ErrReplaced))
		old.conn.CloseWithError(ErrReplaced)
	}
}

func (h *sessionHandler) HandleClose(c *Conn, err error) {
	h.reg.Remove(h.id, h.s)
	h.s.pending.Close(fmt.Errorf("%w: %w", ErrOffline, err))
}
