package wsterm_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

func TestDevicesLists(t *testing.T) {
	e := newEnv(t)
	e.terminal(t, "T-2", wstermtest.WithType("1"), wstermtest.WithAddress("10.0.0.2", "AA"))
	e.terminal(t, "T-1")
	sts, err := e.srv.Devices(context.Background())
	require.NoError(t, err)
	require.Len(t, sts, 2)
	assert.Equal(t, "T-1", sts[0].Device.ID, "by sn")
	assert.Equal(t, "T-2", sts[1].Device.ID)
	assert.True(t, sts[1].Online)
	assert.Equal(t, "10.0.0.2", sts[1].Info.IP)
	assert.Equal(t, "1", sts[1].Info.Extra["type"], "the register type, for the admin API's rows")
	sts[1].Info.Extra["type"] = "changed"
	again, _ := e.srv.Devices(context.Background())
	assert.Equal(t, "1", again[1].Info.Extra["type"], "callers get copies")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.srv.Devices(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestUserCommand(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T-1")
	dev := e.device(t, "T-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	answer, err := dev.UserCommand(ctx, "add", json.RawMessage(`{"userId":"1","name":"n","pwd":"p","cards":null,"bleCards":[]}`))
	require.NoError(t, err)
	assert.Contains(t, string(answer), `"code":"200"`, "the terminal's reply frame")
	u, ok := term.User("1")
	require.True(t, ok)
	assert.Equal(t, "n", u.Name)

	for _, cannot := range []string{`{"userId":"2","cards":["1"]}`, `{"userId":"2","bleCards":["1"]}`, `{"userId":"2","validFrom":"2026-01-01T00:00:00Z"}`, `{"userId":"2","faceUrl":"http://x"}`} {
		answer, err = dev.UserCommand(ctx, "add", json.RawMessage(cannot))
		assert.ErrorIs(t, err, accessctl.ErrUnsupported, cannot)
		assert.Nil(t, answer)
	}
	_, ok = term.User("2")
	assert.False(t, ok, "nothing was sent")
	_, err = dev.UserCommand(ctx, "bogus", json.RawMessage(`{"userId":"1"}`))
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
	_, err = dev.UserCommand(ctx, "add", json.RawMessage(`[1]`))
	assert.ErrorIs(t, err, accessctl.ErrInvalid)

	answer, err = dev.UserCommand(ctx, "delete", json.RawMessage(`{"userId":"1"}`))
	require.NoError(t, err)
	assert.Contains(t, string(answer), `"code":"200"`)
	answer, err = dev.UserCommand(ctx, "delete", json.RawMessage(`{"userId":"1"}`))
	require.NoError(t, err, "a refusal is an answer")
	assert.Contains(t, string(answer), `"code":"500"`)
}
