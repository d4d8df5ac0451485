package intercom

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSmokeLoopbackUnlock(t *testing.T) {
	var opened atomic.Int32
	door, err := NewDoorStation("127.0.0.1:0", WithUser("door1"), WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		opened.Add(1)
		return nil
	})))
	require.NoError(t, err)
	defer door.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := UnlockOnce(ctx, "127.0.0.1:0", door.URI(), WithUser("room1202"))
	require.NoError(t, err)
	require.True(t, res.OK())
	t.Logf("%+v", res)
	require.EqualValues(t, 1, opened.Load())
}

func TestSmokeViaRegistrar(t *testing.T) {
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1", "room1202": "pw2"}, WithExpiryRange(time.Second, time.Hour))
	require.NoError(t, err)
	defer reg.Close()
	var opened atomic.Int32
	door, err := NewDoorStation("127.0.0.1:0", WithUser("door1"), WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		opened.Add(1)
		return nil
	})))
	require.NoError(t, err)
	defer door.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(ctx))
	res, err := NewResident("127.0.0.1:0", WithUser("room1202"))
	require.NoError(t, err)
	defer res.Close()
	rr, err := res.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw2"})
	require.NoError(t, err)
	require.NoError(t, rr.WaitRegistered(ctx))
	call, err := res.CallDoor(ctx, "door1")
	require.NoError(t, err)
	out, err := call.Unlock(ctx)
	require.NoError(t, err)
	t.Logf("%+v stats=%+v", out, reg.Stats())
	require.NoError(t, call.Hangup(ctx))
	require.EqualValues(t, 1, opened.Load())
}
