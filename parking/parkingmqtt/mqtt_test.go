package parkingmqtt_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt"
	"github.com/menjin/menjin/parking/parkingmqtt/parkingmqtttest"
	"github.com/menjin/menjin/parking/parkingsim"
	"github.com/menjin/menjin/transport/thingmodel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	camA = thingmodel.Triple{ProductKey: "pkPark", DeviceName: "lane1", DeviceSecret: "secret-lane1"}
	camB = thingmodel.Triple{ProductKey: "pkPark", DeviceName: "lane2", DeviceSecret: "secret-lane2"}
)

type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
}

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []accessctl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]accessctl.Event(nil), r.events...)
}

type rig struct {
	broker *thingmodel.Broker
	host   *thingmodel.Host
	gw     *parkingmqtt.Gateway
}

func newRig(t testing.TB) *rig {
	t.Helper()
	secrets := thingmodel.Secrets{camA.Key(): camA.DeviceSecret, camB.Key(): camB.DeviceSecret}
	b, err := thingmodel.NewBroker(secrets, thingmodel.WithBrokerAddr("127.0.0.1:0"))
	require.NoError(t, err)
	gw := parkingmqtt.NewGateway()
	h, err := thingmodel.NewHost(context.Background(), thingmodel.WithEmbeddedBroker(b), thingmodel.WithHandler(gw),
		thingmodel.WithRequestTimeout(5*time.Second))
	require.NoError(t, err)
	gw.Bind(h)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		require.NoError(t, b.Close())
	})
	return &rig{broker: b, host: h, gw: gw}
}

// lane connects a simulated camera over the broker and puts a lane on it.
func (r *rig) lane(t testing.TB, tr thingmodel.Triple, d accessctl.Decider, sink accessctl.EventSink,
	simOpts []parkingsim.Option, devOpts []parkingmqtttest.DeviceOption, opts ...parking.LaneOption) (*parkingsim.Camera, *parking.ThingCamera, *parking.Lane) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cam := r.gw.Camera(tr.Key())
	lane := parking.NewLane(cam, d, append([]parking.LaneOption{parking.WithSink(sink), parking.WithDirection(accessctl.DirectionOut)}, opts...)...)
	sim := parkingsim.New(tr.DeviceName, simOpts...)
	dev, err := parkingmqtttest.DialCamera(ctx, r.broker.URL(), tr, sim, devOpts...)
	require.NoError(t, err)
	require.NoError(t, r.host.WaitReady(ctx, tr.Key()))
	require.Eventually(t, func() bool { return cam.GateState() == parking.GateClosed }, 5*time.Second, 5*time.Millisecond,
		"the camera's property post reached the driver")
	t.Cleanup(func() {
		require.NoError(t, lane.Close())
		require.NoError(t, dev.Close())
		require.NoError(t, sim.Close())
	})
	return sim, cam, lane
}

func TestLaneOverTheEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t)
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryWhitelist})
	sink := &recorder{}
	sim, cam, lane := r.lane(t, camA, parking.ListDecider(list, false), sink,
		[]parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4})}, nil)

	p, err := cam.Profile(ctx)
	require.NoError(t, err)
	assert.Equal(t, parking.Profile{Mode: parking.Mixed, Rows: 4}, p, "learned from the property post")

	require.NoError(t, sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))
	waitEvents(t, sink, 1)
	assert.Equal(t, []parking.GateCommand{parking.GateOpen}, sim.GateCommands())
	assert.Equal(t, "京A12345", sim.Display().Rows[0].Text)
	assert.Equal(t, "欢迎光临", sim.Display().Rows[1].Text)
	ev := sink.all()
	require.Len(t, ev, 1)
	assert.Equal(t, accessctl.MethodPlate, ev[0].Pass.Method)
	assert.Equal(t, accessctl.DirectionOut, ev[0].Pass.Direction)
	assert.Equal(t, "image/jpeg", ev[0].Pass.Snapshot.MIME)
	assert.True(t, strings.HasPrefix(ev[0].ID, "pkPark/lane1/IntelligentAlarm@"), ev[0].ID)
	require.Eventually(t, func() bool { return cam.GateState() == parking.GateOpened }, 5*time.Second, 5*time.Millisecond)

	// The same car again: a duplicate, no second open.
	require.NoError(t, sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"}))
	require.Eventually(t, func() bool { return lane.Stats().Duplicates == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, sim.GateCommands(), 1)
	assert.Equal(t, uint64(1), lane.Stats().Duplicates)

	// A manual recognition: the camera answers with an event.
	sim.Script(parkingsim.Car{Plate: "京Z00001"})
	require.NoError(t, cam.TriggerRecognition(ctx))
	require.Eventually(t, func() bool { return len(sink.all()) == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, accessctl.PassDenied, sink.all()[1].Pass.Kind)

	// An operator's close, and the device's refusal of a bad row, typed.
	require.NoError(t, lane.OperateGate(ctx, parking.GateClose, false))
	assert.Equal(t, parking.GateClosed, sim.GateState())
	_, err = cam.Call(ctx, parking.NoticeDisplay{DisplayContent: "x", RowNumber: 1})
	require.ErrorIs(t, err, accessctl.ErrRejected, "a separated-mode service on a mixed-mode camera")
	require.ErrorIs(t, err, thingmodel.ErrRejected)

	// An abnormal lift becomes an alarm.
	require.NoError(t, sim.AbnormalLift(ctx, parking.OpenByDeviceButton, ""))
	require.Eventually(t, func() bool { return len(sink.all()) == 3 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, accessctl.KindAlarm, sink.all()[2].Kind)
}

// A picture over the carrier's message limit goes to the edge file
// service and travels as a URL; the record is never held back.
func TestLargePictureGoesByEdgeFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t)
	files := httptest.NewServer(parking.NewEdgeFileServer())
	defer files.Close()
	fc := &parking.EdgeFileClient{BaseURL: files.URL}
	sink := &recorder{}
	allow := accessctl.DeciderFunc(func(context.Context, accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true}, nil
	})
	sim, _, _ := r.lane(t, camA, allow, sink, nil, []parkingmqtttest.DeviceOption{parkingmqtttest.WithPictureUploader(fc.Upload)})
	pic := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 600<<10)...)
	require.NoError(t, sim.Arrive(ctx, parkingsim.Car{Plate: "京A1", Picture: pic}))
	waitEvents(t, sink, 1)
	ev := sink.all()
	require.Len(t, ev, 1)
	require.NotEmpty(t, ev[0].Pass.Snapshot.URL)
	got, err := fc.Get(ctx, ev[0].Pass.Snapshot.URL)
	require.NoError(t, err)
	assert.Equal(t, pic, got)
}

// mosquitto_rr, a device we did not write, posts a recognition as camera B:
// the lane decides, reports the pass with the picture from the payload,
// and only then does the camera get its post_reply.
func TestMosquittoPostsARecognition(t *testing.T) {
	rr := testutil.RequireTool(t, "mosquitto_rr")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t)
	sink := &recorder{}
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京N12345", Category: parking.CategoryWhitelist})
	var outcomes []parking.Outcome
	var mu sync.Mutex
	cam := r.gw.Camera(camB.Key())
	lane := parking.NewLane(cam, parking.ListDecider(list, false), parking.WithSink(sink), parking.WithDirection(accessctl.DirectionIn),
		parking.WithCommandTimeout(300*time.Millisecond),
		parking.WithOnOutcome(func(o parking.Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }))
	defer lane.Close()

	addition := `{"openType":0,"typePermission":2,"tollProductKey":"pkPark","tollDeviceName":"lane2","plateNumber":"京N12345","areaSpaceId":"","iotId":"","plateNumberType":"02","carColorNumber":"A","hasPlate":1,"plateColorNumber":2,"plateRecognitionReliability":0.97,"carImageKey":""}`
	value := `{"type":10005,"format":0,"media":"/9j/4AAQSkZJRg==","addition_string":` + strconv.Quote(addition) + `}`
	topic := "/sys/pkPark/lane2/thing/event/IntelligentAlarm/post"
	post := `{"id":"77","version":"1.0","params":{"value":` + value + `,"time":1700000000000},"method":"thing.event.IntelligentAlarm.post"}`
	out, err := exec.CommandContext(ctx, rr, append(cliArgs(t, r.broker.URL(), camB), "-t", topic, "-e", topic+"_reply", "-m", post, "-W", "10")...).CombinedOutput()
	require.NoError(t, err, "mosquitto_rr: %s", out)
	var rep struct {
		ID   string `json:"id"`
		Code int    `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(string(out))), &rep), "%s", out)
	assert.Equal(t, "77", rep.ID)
	assert.Equal(t, 200, rep.Code)

	waitEvents(t, sink, 1)
	require.Eventually(t, func() bool { return lane.Stats().GateFailed == 1 }, 5*time.Second, 5*time.Millisecond)
	ev := sink.all()
	require.Len(t, ev, 1)
	e := ev[0]
	assert.True(t, strings.HasPrefix(e.ID, "pkPark/lane2/IntelligentAlarm@1700000000000-"), e.ID)
	assert.Equal(t, time.UnixMilli(1700000000000), e.OccurredAt)
	assert.Equal(t, "京N12345", e.Pass.Credential)
	assert.Equal(t, accessctl.DirectionIn, e.Pass.Direction)
	assert.True(t, e.Pass.Result.Granted)
	assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
	// mosquitto_rr does not answer OperatGate: the lane tried, within its bound.
	mu.Lock()
	require.Len(t, outcomes, 1)
	assert.Error(t, outcomes[0].Err)
	mu.Unlock()

	// An undecodable recognition is answered 460, not acknowledged as taken.
	bad := `{"id":"78","version":"1.0","params":{"value":{"type":10005},"time":1700000000001},"method":"thing.event.IntelligentAlarm.post"}`
	out, err = exec.CommandContext(ctx, rr, append(cliArgs(t, r.broker.URL(), camB), "-t", topic, "-e", topic+"_reply", "-m", bad, "-W", "10")...).CombinedOutput()
	require.NoError(t, err, "mosquitto_rr: %s", out)
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(string(out))), &rep), "%s", out)
	assert.Equal(t, thingmodel.CodeBadParams, rep.Code)
	assert.Len(t, sink.all(), 1)
	assert.Equal(t, uint64(1), r.gw.Stats().Malformed)
}

func waitEvents(t *testing.T, r *recorder, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.all()) >= n }, 5*time.Second, 2*time.Millisecond)
}

func cliArgs(t *testing.T, brokerURL string, tr thingmodel.Triple) []string {
	t.Helper()
	u, err := url.Parse(brokerURL)
	require.NoError(t, err)
	cred, err := thingmodel.Sign(tr, "cli-"+tr.DeviceName, time.Now(), thingmodel.HMACSHA256)
	require.NoError(t, err)
	return []string{"-h", u.Hostname(), "-p", u.Port(), "-V", "mqttv311", "-q", "1",
		"-i", cred.ClientID, "-u", cred.Username, "-P", cred.Password}
}
