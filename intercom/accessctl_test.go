package intercom

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/menjin/menjin/accessctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeDevice is the smallest accessctl.Device: it records OpenDoor calls.
type fakeDevice struct {
	mu    sync.Mutex
	opens []accessctl.OpenRequest
}

func (d *fakeDevice) ID() string { return "lock-1" }
func (d *fakeDevice) Status(context.Context) (accessctl.Status, error) {
	return accessctl.Status{Online: true}, nil
}
func (d *fakeDevice) OpenDoor(_ context.Context, r accessctl.OpenRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opens = append(d.opens, r)
	return nil
}
func (d *fakeDevice) Close() error { return nil }

func TestAccessctlDeviceAndSink(t *testing.T) {
	dev := &fakeDevice{}
	events := make(chan accessctl.Event, 4)
	ref := accessctl.DeviceRef{Platform: "site", ID: "door-a"}
	door, err := NewDoorStation("127.0.0.1:0", WithUser("door1"), WithOpener(DeviceOpener(dev, 2)),
		WithSink(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error { events <- e; return nil })), WithDevice(ref, 2))
	require.NoError(t, err)
	defer door.Close()
	ctx := testCtx(t)
	res, err := UnlockOnce(ctx, "127.0.0.1:0", door.URI(), WithUser("room1202"))
	require.NoError(t, err)
	e := <-events
	assert.Equal(t, accessctl.KindPass, e.Kind)
	assert.Equal(t, ref, e.Device)
	require.NotNil(t, e.Pass)
	assert.Equal(t, accessctl.MethodIntercom, e.Pass.Method)
	assert.Equal(t, accessctl.PassGranted, e.Pass.Kind)
	assert.True(t, e.Pass.Result.Granted)
	assert.Equal(t, 200, e.Pass.Result.Code)
	assert.Equal(t, 2, e.Pass.Door)
	assert.Equal(t, "room1202", e.Pass.Person.ID)
	assert.NotEmpty(t, e.ID)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(e.Raw, &raw))
	assert.Equal(t, "info-json", raw["channel"])
	assert.EqualValues(t, res.ReqSN, raw["reqsn"])
	dev.mu.Lock()
	defer dev.mu.Unlock()
	require.Len(t, dev.opens, 1)
	assert.Equal(t, 2, dev.opens[0].Door)
	assert.Equal(t, "sip:room1202", dev.opens[0].Operator)
	assert.Contains(t, dev.opens[0].CorrelationID, "/")
}

// The sink runs after the WithOnUnlock callback even when that option comes
// later (it used to replace the sink), and only if the callback accepted.
func TestSinkRunsAfterOnUnlockInAnyOrder(t *testing.T) {
	var got []string
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		got = append(got, "sink:"+e.Device.ID)
		return nil
	})
	var refuse error
	o := defaultOptions()
	for _, f := range []DoorOption{WithSink(sink), WithDevice(accessctl.DeviceRef{ID: "d1"}, 1),
		WithOnUnlock(func(context.Context, UnlockEvent) error { got = append(got, "cb"); return refuse })} {
		f.applyDoor(&o)
	}
	o.sinkUnlock()
	require.NoError(t, o.onUnlock(context.Background(), UnlockEvent{}))
	assert.Equal(t, []string{"cb", "sink:d1"}, got)

	refuse = errors.New("refused")
	got = nil
	require.ErrorIs(t, o.onUnlock(context.Background(), UnlockEvent{}), refuse)
	assert.Equal(t, []string{"cb"}, got)
}
