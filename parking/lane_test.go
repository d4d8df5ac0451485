package parking_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

type laneFixture struct {
	sim  *parkingsim.Camera
	cam  *parking.ThingCamera
	lane *parking.Lane
	sink *recorder
	list *parking.PermissionSet
}

func newLane(t *testing.T, simOpts []parkingsim.Option, decider accessctl.Decider, opts ...parking.LaneOption) *laneFixture {
	t.Helper()
	f := &laneFixture{sink: &recorder{}, list: &parking.PermissionSet{}}
	f.list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryOrdinary,
		Expiry: threeDaysOn()})
	f.list.Put(parking.Permission{PlateNumber: "京B66666", Category: parking.CategoryBlacklist})
	f.sim = parkingsim.New("lane-1", simOpts...)
	f.sim.Permissions().Put(parking.Permission{PlateNumber: "京B66666", Category: parking.CategoryBlacklist})
	var err error
	f.cam, err = parkingsim.Loopback(context.Background(), f.sim)
	require.NoError(t, err)
	if decider == nil {
		decider = parking.ListDecider(f.list, false)
	}
	opts = append([]parking.LaneOption{parking.WithDirection(accessctl.DirectionIn)}, opts...)
	f.lane = parking.NewLane(f.cam, decider, append([]parking.LaneOption{parking.WithSink(f.sink)}, opts...)...)
	t.Cleanup(func() {
		require.NoError(t, f.lane.Close())
		require.NoError(t, f.sim.Close())
	})
	return f
}

func TestLaneAllowsAndReports(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))

	assert.Equal(t, []parking.GateCommand{parking.GateOpen}, f.sim.GateCommands())
	assert.Equal(t, parking.GateOpened, f.sim.GateState())
	assert.Equal(t, parking.GateOpened, f.cam.GateState(), "the camera's property post reached the driver")
	d := f.sim.Display()
	assert.Equal(t, "京A12345", d.Rows[0].Text)
	assert.Equal(t, "欢迎光临", d.Rows[1].Text)
	assert.Equal(t, "月卡剩余3天", d.Rows[2].Text)
	assert.Equal(t, "京 A 1 2 3 4 5 欢迎光临", d.Voice)

	ev := f.sink.all()
	require.Len(t, ev, 1)
	e := ev[0]
	assert.Equal(t, accessctl.KindPass, e.Kind)
	assert.Equal(t, "lane-1/1", e.ID, "the device's event id, per camera")
	assert.Equal(t, accessctl.DeviceRef{ID: "lane-1"}, e.Device)
	require.NotNil(t, e.Pass)
	assert.Equal(t, accessctl.MethodPlate, e.Pass.Method)
	assert.Equal(t, "京A12345", e.Pass.Credential)
	assert.Equal(t, accessctl.DirectionIn, e.Pass.Direction)
	assert.Equal(t, accessctl.PassGranted, e.Pass.Kind)
	assert.True(t, e.Pass.Result.Granted)
	require.NotNil(t, e.Pass.Snapshot)
	assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
	assert.NotEmpty(t, e.Raw)
	st := f.lane.Stats()
	assert.Equal(t, uint64(1), st.Recognitions)
	assert.Equal(t, uint64(1), st.Allowed)
	assert.Equal(t, uint64(1), st.GateSent)
	assert.Equal(t, uint64(1), st.Delivered)
}

// A camera picture that is not an image loses the picture, never the pass:
// the car is at the barrier whatever its photo looks like.
func TestLaneKeepsPassWithBadPicture(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	f := newLane(t, nil, nil, parking.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345", Picture: []byte("random bytes, not a JPEG")}))
	assert.Contains(t, logs.String(), "picture dropped")
	assert.Equal(t, []parking.GateCommand{parking.GateOpen}, f.sim.GateCommands())
	ev := f.sink.all()
	require.Len(t, ev, 1)
	require.NotNil(t, ev[0].Pass)
	assert.True(t, ev[0].Pass.Result.Granted)
	assert.Nil(t, ev[0].Pass.Snapshot)
	assert.Equal(t, "media is not a JPEG or PNG picture", ev[0].Pass.SnapshotDropped)
	assert.Equal(t, uint64(1), f.lane.Stats().SnapshotsDropped)
}

func TestLaneDeniesBlacklist(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, []parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4})}, nil)
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京B66666"}))
	assert.Empty(t, f.sim.GateCommands(), "a denied car does not open the gate")
	d := f.sim.Display()
	assert.Equal(t, parkingsim.Row{Text: "京B66666", Color: parking.Red}, d.Rows[0])
	assert.Equal(t, "禁止通行", d.Rows[1].Text)
	ev := f.sink.all()
	require.Len(t, ev, 1)
	assert.Equal(t, accessctl.PassDenied, ev[0].Pass.Kind)
	assert.Equal(t, accessctl.PolicyDeny, ev[0].Pass.Policy, "the camera's list said blacklist")
	assert.False(t, ev[0].Pass.Result.Granted)
}

// Two recognitions of one car inside the duplicate window open the gate once.
func TestLaneDuplicateRecognitionsOpenOnce(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	var once sync.Once
	slow := accessctl.DeciderFunc(func(ctx context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
		once.Do(calls.Done)
		select {
		case <-release:
		case <-ctx.Done():
			return accessctl.Decision{}, ctx.Err()
		}
		return accessctl.Decision{Allow: true}, nil
	})
	f := newLane(t, nil, slow)
	errs := make(chan error, 2)
	go func() { errs <- f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}) }()
	calls.Wait() // the first is being decided
	// The same car, its plate spaced differently.
	go func() { errs <- f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A 12345"}) }()
	require.Eventually(t, func() bool { return f.lane.Stats().Duplicates == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	assert.Equal(t, []parking.GateCommand{parking.GateOpen}, f.sim.GateCommands())
	assert.Len(t, f.sink.all(), 1, "one car, one pass event")
	st := f.lane.Stats()
	assert.Equal(t, uint64(1), st.Recognitions)
	assert.Equal(t, uint64(1), st.Duplicates)

	// Sequentially inside the window: still a duplicate.
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))
	assert.Len(t, f.sim.GateCommands(), 1)
	assert.Equal(t, uint64(2), f.lane.Stats().Duplicates)
}

func TestLaneDuplicateWindowExpires(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newLane(t, nil, nil, parking.WithClock(clock), parking.WithDuplicateWindow(5*time.Second))
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateClose, false))
	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))
	assert.Equal(t, []parking.GateCommand{parking.GateOpen, parking.GateClose, parking.GateOpen}, f.sim.GateCommands())
	assert.Equal(t, uint64(0), f.lane.Stats().Duplicates)
}

// A gate command racing a close is serialised: never two in flight, and the
// barrier ends in the state of the last command the camera received.
func TestLaneGateCommandsAreSerialised(t *testing.T) {
	ctx := context.Background()
	always := accessctl.DeciderFunc(func(context.Context, accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true}, nil
	})
	f := newLane(t, []parkingsim.Option{parkingsim.WithCommandLatency(2 * time.Millisecond)}, always,
		parking.WithDuplicateWindow(0))
	var wg sync.WaitGroup
	const n = 20
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			assert.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京C" + string(rune('A'+i))}))
		}()
		go func() {
			defer wg.Done()
			assert.NoError(t, f.lane.OperateGate(ctx, parking.GateClose, false))
		}()
	}
	wg.Wait()
	cmds := f.sim.GateCommands()
	assert.Equal(t, 1, f.sim.MaxConcurrentGateCommands(), "one command in flight at a time")
	assert.Contains(t, cmds, parking.GateClose)
	assert.Contains(t, cmds, parking.GateOpen)
	last := cmds[len(cmds)-1]
	want := parking.GateClosed
	if last == parking.GateOpen {
		want = parking.GateOpened
	}
	assert.Equal(t, want, f.sim.GateState(), "the last command wins")
	st := f.lane.Stats()
	assert.Equal(t, uint64(len(cmds)), st.GateSent)
	assert.Equal(t, uint64(2*n), st.GateSent, "every command was sent")
}

func TestLaneKeepOpenAndVehiclePresent(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateKeepOpen, false))
	require.ErrorIs(t, parking.AutoClose(ctx, f.lane), parking.ErrKeepOpen, "an automatic close never overrides keep-open")
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateClose, false), "an explicit close cancels it")
	require.NoError(t, parking.AutoClose(ctx, f.lane))

	require.NoError(t, f.lane.OperateGate(ctx, parking.GateOpen, false))
	require.NoError(t, f.sim.SetVehicle(ctx, parking.VehiclePresent))
	require.ErrorIs(t, f.lane.OperateGate(ctx, parking.GateClose, false), parking.ErrVehiclePresent)
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateClose, true), "force closes anyway")
	require.ErrorIs(t, f.lane.OperateGate(ctx, 7, false), parking.ErrUnknownValue)
	assert.Equal(t, uint64(2), f.lane.Stats().GateRefused)

	// Open while already opened is sent again: the state report may be stale.
	require.NoError(t, f.sim.SetVehicle(ctx, parking.NoVehicle))
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateOpen, false))
	n := len(f.sim.GateCommands())
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateOpen, false))
	assert.Len(t, f.sim.GateCommands(), n+1)
}

func TestLaneDeciderFailureFallsBackToDeny(t *testing.T) {
	ctx := context.Background()
	block := accessctl.DeciderFunc(func(ctx context.Context, _ accessctl.DecisionRequest) (accessctl.Decision, error) {
		<-ctx.Done()
		return accessctl.Decision{}, ctx.Err()
	})
	var outcomes []parking.Outcome
	f := newLane(t, nil, block, parking.WithDecisionTimeout(20*time.Millisecond),
		parking.WithOnOutcome(func(o parking.Outcome) { outcomes = append(outcomes, o) }))
	start := time.Now()
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京D1"}))
	assert.Less(t, time.Since(start), time.Second, "bounded time")
	assert.Empty(t, f.sim.GateCommands())
	assert.Equal(t, "请稍候", f.sim.Display().Rows[1].Text)
	require.Len(t, outcomes, 1)
	assert.True(t, outcomes[0].Fallback)
	assert.ErrorIs(t, outcomes[0].Err, accessctl.ErrTimeout)
	assert.Equal(t, uint64(1), f.lane.Stats().Fallbacks)
	assert.Equal(t, accessctl.PassDenied, f.sink.all()[0].Pass.Kind)

	panicky := accessctl.DeciderFunc(func(context.Context, accessctl.DecisionRequest) (accessctl.Decision, error) {
		panic("host bug")
	})
	g := newLane(t, nil, panicky)
	require.NoError(t, g.sim.Arrive(ctx, parkingsim.Car{Plate: "京D2"}))
	assert.Empty(t, g.sim.GateCommands())
	assert.Equal(t, uint64(1), g.lane.Stats().Fallbacks)
}

// A pass event the sink refuses is not acknowledged; the camera's repost
// delivers it without opening the gate again.
func TestLaneSinkFailureIsRedelivered(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	f.sink.setFail(errors.New("platform down"))
	car := parkingsim.Car{Plate: "京A12345"}
	err := f.sim.Arrive(ctx, car)
	require.Error(t, err)
	assert.Equal(t, uint64(1), f.lane.Stats().DeliveryFailed)
	assert.Len(t, f.sim.GateCommands(), 1, "the car was let in regardless")

	f.sink.setFail(nil)
	require.NoError(t, f.sim.Repost(ctx, f.sim.LastEventID(), car))
	ev := f.sink.all()
	require.Len(t, ev, 1)
	assert.Equal(t, "lane-1/1", ev[0].ID)
	assert.Len(t, f.sim.GateCommands(), 1, "the repost did not open the gate again")
	require.NoError(t, f.sim.Repost(ctx, f.sim.LastEventID(), car))
	assert.Len(t, f.sink.all(), 1, "delivered once")
}

func TestLaneAbnormalLiftIsAnAlarm(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	require.NoError(t, f.sim.AbnormalLift(ctx, parking.OpenByDeviceButton, "http://gw:9102/oss/a.jpg"))
	require.NoError(t, f.sim.AbnormalLift(ctx, parking.OpenByRemoteControl, "")) // snapshot failed: still reported
	ev := f.sink.all()
	require.Len(t, ev, 2)
	assert.Equal(t, accessctl.KindAlarm, ev[0].Kind)
	assert.Equal(t, parking.EventAbnormalOpenGate, ev[0].Alarm.Type)
	assert.Equal(t, "barrier lifted by device button", ev[0].Alarm.Message)
	assert.Equal(t, "http://gw:9102/oss/a.jpg", ev[0].Alarm.Snapshot.URL)
	assert.Nil(t, ev[1].Alarm.Snapshot)
	assert.Equal(t, uint64(2), f.lane.Stats().Alarms)
}

func TestThingCameraRefusesWhatItCannotDeliver(t *testing.T) {
	ctx := context.Background()
	cam := parking.NewThingCamera("c", parking.InvokerFunc(nil))
	err := cam.HandleEvent(ctx, parking.ThingEvent{Identifier: parking.EventAbnormalOpenGate, Params: []byte(`{"OpenType":0}`)})
	require.ErrorIs(t, err, accessctl.ErrClosed, "no handler: not acknowledged")
	err = cam.HandleEvent(ctx, parking.ThingEvent{Identifier: "Nope", Params: []byte(`{}`)})
	require.ErrorIs(t, err, parking.ErrUnknownValue)
	err = cam.HandleEvent(ctx, parking.ThingEvent{Identifier: parking.EventIntelligentAlarm, Params: []byte(`{`)})
	require.ErrorIs(t, err, parking.ErrSyntax)
	err = cam.HandleEvent(ctx, parking.ThingEvent{Identifier: parking.EventOssStsTokenRequest, Params: []byte(`{"RequestType":0}`)})
	require.ErrorIs(t, err, accessctl.ErrUnsupported)
	var got []parking.OssStsTokenRequest
	cam = parking.NewThingCamera("c", nil, parking.WithOnStsTokenRequest(func(r parking.OssStsTokenRequest) { got = append(got, r) }))
	require.NoError(t, cam.HandleEvent(ctx, parking.ThingEvent{Identifier: parking.EventOssStsTokenRequest, Params: []byte(`{"RequestType":1}`)}))
	assert.Equal(t, []parking.OssStsTokenRequest{{RequestType: parking.StsTextFile}}, got)
}

func TestLaneClosed(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	require.NoError(t, f.lane.Close())
	require.NoError(t, f.lane.Close())
	err := f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"})
	require.ErrorIs(t, err, accessctl.ErrClosed)
}

// stuckGate accepts commands but its barrier never moves.
type stuckGate struct{ parking.Camera }

func (stuckGate) OperateGate(context.Context, parking.GateCommand) error { return nil }
func (stuckGate) GateState() parking.GateState                           { return parking.GateClosed }
func (stuckGate) VehicleState() parking.VehicleState                     { return parking.NoVehicle }

func TestLaneGateConfirm(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, []parkingsim.Option{parkingsim.WithGateTravel(20 * time.Millisecond)}, nil,
		parking.WithGateConfirm(time.Second))
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateOpen, false), "opening is confirmation enough")
	require.NoError(t, f.lane.OperateGate(ctx, parking.GateClose, false))
	assert.Equal(t, uint64(0), f.lane.Stats().GateUnconfirmed)

	stuck := parking.NewLane(stuckGate{f.cam}, nil, parking.WithGateConfirm(30*time.Millisecond))
	defer stuck.Close()
	err := stuck.OperateGate(ctx, parking.GateOpen, false)
	require.ErrorIs(t, err, accessctl.ErrTimeout)
	assert.Equal(t, uint64(1), stuck.Stats().GateUnconfirmed)
}

func TestLaneRecordsTheDecidersPlate(t *testing.T) {
	ctx := context.Background()
	fix := accessctl.DeciderFunc(func(_ context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
		assert.Equal(t, "京A I2345", r.Credential.Value, "the decider sees the plate as read")
		assert.Equal(t, accessctl.CredPlate, r.Credential.Kind)
		assert.Equal(t, accessctl.DirectionIn, r.Direction)
		require.NotNil(t, r.Snapshot)
		return accessctl.Decision{Allow: true, Credential: "京A12345", Person: &accessctl.PersonRef{ID: "owner-7"}, Name: "张三"}, nil
	})
	f := newLane(t, nil, fix)
	require.NoError(t, f.sim.Arrive(ctx, parkingsim.Car{Plate: "京A I2345"}))
	ev := f.sink.all()
	require.Len(t, ev, 1)
	assert.Equal(t, "京A12345", ev[0].Pass.Credential)
	assert.Equal(t, "owner-7", ev[0].Pass.Person.ID)
	assert.Equal(t, "张三", ev[0].Pass.PersonName)
}

// threeDaysOn expires three calendar days from today in the lane's zone,
// late enough in that day to stay valid whatever the hour now.
func threeDaysOn() time.Time {
	y, m, d := time.Now().In(parking.ChinaTime).Date()
	return time.Date(y, m, d+3, 23, 0, 0, 0, parking.ChinaTime)
}
