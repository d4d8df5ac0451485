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
