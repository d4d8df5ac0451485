package parkingmqtt_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt"
	"github.com/menjin/menjin/parking/parkingsim"
	"github.com/menjin/menjin/transport/thingmodel"
)

// A sink that is down makes the post fail, so the camera keeps the
// recognition; its resend is delivered, and the car was let in once.
func TestRefusedEventIsResent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t)
	var down atomic.Bool
	down.Store(true)
	sink := &recorder{}
	flaky := accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
		if down.Load() {
			return errors.New("platform down")
		}
		return sink.Handle(ctx, e)
	})
	allow := accessctl.DeciderFunc(func(context.Context, accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true}, nil
	})
	sim, _, lane := r.lane(t, camA, allow, flaky, nil, nil)
	car := parkingsim.Car{Plate: "京A1"}
	err := sim.Arrive(ctx, car)
	require.ErrorIs(t, err, thingmodel.ErrRejected, "the camera is told its post was not taken")
	assert.Empty(t, sink.all())
	assert.Equal(t, uint64(1), r.gw.Stats().Failed)

	down.Store(false)
	require.NoError(t, sim.Repost(ctx, sim.LastEventID(), car))
	ev := sink.all()
	require.Len(t, ev, 1)
	assert.Equal(t, "京A1", ev[0].Pass.Credential)
	assert.Equal(t, []parking.GateCommand{parking.GateOpen}, sim.GateCommands(), "the resend did not reopen the gate")
	assert.Equal(t, uint64(1), lane.Stats().Delivered)
	assert.Equal(t, uint64(1), r.gw.Stats().Handled)
}

func TestGatewayRefusesWhatItCannotPlace(t *testing.T) {
	ctx := context.Background()
	gw := parkingmqtt.NewGateway()
	key := camA.Key()
	cam := gw.Camera(key)
	require.Same(t, cam, gw.Camera(key), "one driver per camera")
	alarm, err := parkingsim.New("x").Alarm(parkingsim.Car{Plate: "京A1"}).Params()
	require.NoError(t, err)

	err = gw.ServeThing(ctx, &thingmodel.Message{Device: camB.Key(), Kind: thingmodel.TopicEventPost, Identifier: parking.EventIntelligentAlarm, Value: alarm})
	require.ErrorIs(t, err, parkingmqtt.ErrUnknownCamera)
	// No lane subscribed yet: not taken, so the camera resends.
	err = gw.ServeThing(ctx, &thingmodel.Message{Device: key, Kind: thingmodel.TopicEventPost, Identifier: parking.EventIntelligentAlarm, Value: alarm, Time: time.UnixMilli(1)})
	require.ErrorIs(t, err, accessctl.ErrClosed)
	var re *thingmodel.ReplyError
	for _, bad := range []*thingmodel.Message{
		{Device: key, Kind: thingmodel.TopicEventPost, Identifier: "Nope", Value: []byte(`{}`)},
		{Device: key, Kind: thingmodel.TopicEventPost, Identifier: parking.EventAbnormalOpenGate, Value: []byte(`{"OpenType":"x"}`)},
		{Device: key, Kind: thingmodel.TopicPropertyPost, Identifier: "property", Value: []byte(`{"GateState":9}`)},
	} {
		err = gw.ServeThing(ctx, bad)
		require.ErrorAs(t, err, &re, bad.Identifier)
		assert.Equal(t, thingmodel.CodeBadParams, re.Code)
	}
	st := gw.Stats()
	assert.Equal(t, uint64(3), st.Malformed)
	assert.Equal(t, uint64(2), st.Failed)
}
