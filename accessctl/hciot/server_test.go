package hciot_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The seed's test IoT app (public HC defaults, not secrets).
const (
	iotAppID     = "e86a6a373c354927bea5fd21a0bec617"
	iotAppSecret = "ead9a2f67f96e2b8ed2fe38cc9709463"
	community    = "702020042194860039"
)

var (
	gate = hciottest.MachineSpec{Code: "101010", ExtID: "702020042194860040", Community: community, Name: "大门", HmID: "hm-1",
		LocationType: "1000", LocationObjID: community, Direction: "3306", IP: "192.168.1.10"}
	unitDoor = hciottest.MachineSpec{Code: "101011", ExtID: "702020042194860041", Community: community, Name: "1单元门", HmID: "hm-1",
		LocationType: "2000", LocationObjID: "unit-1", Direction: "3307"}
	residents = []hciottest.Resident{
		{ID: "702020042194860037", Name: "张三", Link: "13800000001", Face: hciottest.FaceJPEG},
		{ID: "702020042194860038", Name: "李四", Link: "13800000002", Face: hciottest.FaceJPEG, DataURL: true},
		{ID: "702020042194860042", Name: "王五", Link: "13800000003", Face: hciottest.FaceJPEG},
	}
)

// fixture is an /extApi server with fake devices behind it, and an HC
// client pointed at it.
type fixture struct {
	srv     *hciot.Server
	http    *httptest.Server
	hc      *hciottest.Client
	reg     *accessctl.Registry
	clock   *clock
	mu      sync.Mutex
	devices map[string]*accessctltest.FakeDevice
	opened  map[string]int
	results []accessctl.Event
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, opts ...hciot.Option) *fixture {
	t.Helper()
	f := &fixture{
		reg:     &accessctl.Registry{},
		clock:   &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
		devices: map[string]*accessctltest.FakeDevice{},
		opened:  map[string]int{},
	}
	// The fake driver hands out one device per machineCode, like a terminal
	// server does for terminals that are (or will be) connected.
	f.reg.Register("fake", accessctl.DriverFunc(func(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		d, ok := f.devices[cfg.ID]
		if !ok {
			d = accessctltest.NewFakeDevice(cfg.ID, nil)
			f.devices[cfg.ID] = d
		}
		f.opened[cfg.ID]++
		return d, nil
	}))
	f.reg.Register("broken", accessctl.DriverFunc(func(context.Context, accessctl.DeviceConfig) (accessctl.Device, error) {
		return nil, fmt.Errorf("cannot reach: %w", accessctl.ErrOffline)
	}))
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		f.mu.Lock()
		f.results = append(f.results, e)
		f.mu.Unlock()
		return nil
	})
	base := []hciot.Option{
		hciot.WithApp(iotAppID, iotAppSecret),
		hciot.WithRegistry(f.reg),
		hciot.WithDriver("hm-1", "fake"),
		hciot.WithDriver("hm-broken", "broken"),
		hciot.WithSink(sink),
		hciot.WithClock(f.clock.Now),
		hciot.WithMaxFaceBytes(1 << 10),
	}
	srv, err := hciot.NewServer(append(base, opts...)...)
	require.NoError(t, err)
	f.srv = srv
	f.http = httptest.NewServer(srv)
	t.Cleanup(func() {
		f.http.Close()
		require.NoError(t, srv.Close())
	})
	// IOT_URL with a trailing slash, as in seed 000: HC then sends //extApi.
	f.hc = &hciottest.Client{BaseURL: f.http.URL + "/", AppID: iotAppID, AppSecret: iotAppSecret, HTTP: f.http.Client()}
	return f
}

func (f *fixture) device(code string) *accessctltest.FakeDevice {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.devices[code]
}

func (f *fixture) commandResults() []accessctl.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]accessctl.Event(nil), f.results...)
}

func (f *fixture) ledger(t *testing.T, person string) []string {
	t.Helper()
	es, err := f.srv.Ledger().ByPerson(context.Background(), person)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Device)
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// post sends a body and requires HC's success envelope echoing the taskId.
func (f *fixture) ok(t *testing.T, path string, body map[string]any) hciottest.Envelope {
	t.Helper()
	env, err := f.hc.Post(ctx(t), path, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, env.HTTPStatus)
	require.Equal(t, 0, env.Code, "msg: %s", env.Msg)
	require.Equal(t, "成功", env.Msg)
	require.Equal(t, body["taskId"], env.TaskID())
	return env
}

func (f *fixture) fail(t *testing.T, path string, body any) hciottest.Envelope {
	t.Helper()
	var env hciottest.Envelope
	var err error
	if raw, ok := body.([]byte); ok {
		env, err = f.hc.PostRaw(ctx(t), path, raw)
	} else {
		env, err = f.hc.Post(ctx(t), path, body)
	}
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, env.HTTPStatus, "errors travel with HTTP 200")
	require.Equal(t, -1, env.Code, "msg: %s", env.Msg)
	require.NotEmpty(t, env.Msg)
	require.JSONEq(t, `""`, string(env.Data))
	return env
}

func (f *fixture) setup(t *testing.T, machines ...hciottest.MachineSpec) {
	t.Helper()
	_, env, err := f.hc.GetToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 0, env.Code)
	f.ok(t, "/extApi/community/addCommunity", hciottest.AddCommunity(hciottest.CommunitySpec{ID: community, Name: "老九学堂", Address: "青海省西宁市", CityCode: "630100"}, "t-com-1"))
	for i, m := range machines {
		f.ok(t, "/extApi/machine/addMachine", hciottest.AddMachine(m, fmt.Sprintf("t-mach-%d", i)))
	}
}

// HC's sequence: token → addCommunity → addMachine → addUser ×N →
// openDoor → deleteUser → resend of the same taskId, with the effect
// checked on the device side.
func TestHCSequence(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now().In(time.FixedZone("CST", 8*3600))

	tok, env, err := f.hc.GetToken(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, 0, env.Code)
	assert.Equal(t, "成功", env.Msg)
	assert.JSONEq(t, fmt.Sprintf(`{"access_token":%q,"expires_in":7200}`, tok), string(env.Data))
	assert.Len(t, tok, 48)

	f.ok(t, "/extApi/community/addCommunity", hciottest.AddCommunity(hciottest.CommunitySpec{ID: community, Name: "老九学堂", Address: "青海省西宁市", CityCode: "630100"}, "702020112300000001"))
	com, ok := f.srv.Community(community)
	require.True(t, ok)
	assert.Equal(t, "老九学堂", com.Name)

	f.ok(t, "/extApi/machine/addMachine", hciottest.AddMachine(gate, "702020112300000002"))
	m, ok := f.srv.Machine(gate.Code)
	require.True(t, ok)
	assert.Equal(t, "fake", m.Driver)
	assert.Equal(t, accessctl.DirectionIn, m.Direction)
	assert.True(t, m.CommunityLevel())
	dev := f.device(gate.Code)
	require.NotNil(t, dev, "addMachine opened the device through the registry")

	for i, r := range residents {
		f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, gate, now, fmt.Sprintf("70202011230000010%d", i)))
	}
	for _, r := range residents {
		name, ok := dev.Holds(r.ID)
		assert.True(t, ok, "%s is on the terminal", r.ID)
		assert.Equal(t, r.Name, name)
	}
	g, err := dev.GetGrant(ctx(t), accessctl.PersonRef{ID: residents[1].ID})
	require.NoError(t, err)
	face, ok := g.Credential(accessctl.CredFace)
	require.True(t, ok)
	assert.Equal(t, hciottest.FaceJPEG, face.Face.Data, "data-URL prefix stripped")
	assert.Equal(t, "image/jpeg", face.Face.MIME)
	assert.Equal(t, "13800000002", g.Phone)
	assert.Equal(t, accessctl.PersonOwner, g.PersonType)
	assert.Equal(t, "2038-01-01T00:00:00+08:00", g.ValidTo.Format(time.RFC3339))
	assert.Equal(t, "70202011230000010"+"1", g.CorrelationID)
	assert.NotNil(t, g.Ext["attrs"], "HC's attrs are kept")

	f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "702020112300000200"))
	assert.Equal(t, 1, dev.DoorOpens())

	del := hciottest.DeleteUser(residents[0], gate, "702020112300000300")
	f.ok(t, "/extApi/user/deleteUser", del)
	_, on := dev.Holds(residents[0].ID)
	assert.False(t, on, "deleted from the terminal")
	assert.Empty(t, f.ledger(t, residents[0].ID))

	// HC's manual resend replays the identical body: answered, not re-applied.
	f.ok(t, "/extApi/user/deleteUser", del)
	f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "702020112300000200"))
	assert.Equal(t, 1, dev.DoorOpens(), "a resent openDoor does not open twice")
	// A resent addUser that already succeeded must not bring back a
	// resident deleted since.
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(residents[0], gate, now, "702020112300000100"))
	_, on = dev.Holds(residents[0].ID)
	assert.False(t, on, "a replayed addUser does not re-add a deleted resident")
	assert.Equal(t, uint64(3), f.srv.Stats().Replays)

	// Every command, replays included, reports its result under its taskId.
	var tasks []string
	for _, e := range f.commandResults() {
		require.Equal(t, accessctl.KindCommandResult, e.Kind)
		require.True(t, e.Command.OK)
		tasks = append(tasks, e.Command.CorrelationID)
	}
	assert.Equal(t, []string{"702020112300000001", "702020112300000002", "702020112300000100", "702020112300000101",
		"702020112300000102", "702020112300000200", "702020112300000300", "702020112300000300", "702020112300000200",
		"702020112300000100"}, tasks)
	assert.Equal(t, gate.Code, f.commandResults()[5].Device.ID)
	assert.Equal(t, community, f.commandResults()[5].Site.ID)
}

// §1.5 item 4: HC sends an owner delete to community doors only. The
// ledger takes the person off the unit door too.
func TestOwnerDeleteReachesUnitDoors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		scope     hciot.DeleteScope
		stillUnit bool
	}{{"community", hciot.DeleteCommunity, false}, {"exact", hciot.DeleteExact, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, hciot.WithDeleteScope(tc.scope))
			other := hciottest.MachineSpec{Code: "202020", ExtID: "x-2", Community: "other-community", Name: "别的小区", HmID: "hm-1", LocationType: "1000", LocationObjID: "other-community"}
			f.setup(t, gate, unitDoor, other)
			now := f.clock.Now()
			r := residents[0]
			f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, gate, now, "a1"))
			f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, unitDoor, now, "a2"))
			f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, other, now, "a3"))
			assert.Equal(t, []string{gate.Code, unitDoor.Code, other.Code}, f.ledger(t, r.ID))

			f.ok(t, "/extApi/user/deleteUser", hciottest.DeleteUser(r, gate, "d1"))
			_, onGate := f.device(gate.Code).Holds(r.ID)
			_, onUnit := f.device(unitDoor.Code).Holds(r.ID)
			_, onOther := f.device(other.Code).Holds(r.ID)
			assert.False(t, onGate)
			assert.Equal(t, tc.stillUnit, onUnit)
			assert.True(t, onOther, "another community's doors are not touched")
		})
	}
}

// A delete on a unit door (room unbind) removes from that door only.
func TestUnitDoorDeleteIsExact(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate, unitDoor)
	r := residents[0]
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, gate, f.clock.Now(), "a1"))
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, unitDoor, f.clock.Now(), "a2"))
	f.ok(t, "/extApi/user/deleteUser", hciottest.DeleteUser(r, unitDoor, "d1"))
	_, onGate := f.device(gate.Code).Holds(r.ID)
	assert.True(t, onGate)
	assert.Equal(t, []string{gate.Code}, f.ledger(t, r.ID))
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	body := hciottest.OpenDoor(gate, "o1")

	t.Run("missing header", func(t *testing.T) {
		hc := &hciottest.Client{BaseURL: f.hc.BaseURL, HTTP: f.http.Client()}
		env, err := hc.Post(ctx(t), "/extApi/machine/openDoor", body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, env.HTTPStatus)
		assert.Equal(t, -1, env.Code)
		assert.Equal(t, "http header 未包含access_token", env.Msg)
	})
	t.Run("unknown token", func(t *testing.T) {
		hc := &hciottest.Client{BaseURL: f.hc.BaseURL, HTTP: f.http.Client()}
		hc.SetToken("deadbeef")
		env, err := hc.Post(ctx(t), "/extApi/machine/openDoor", body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, env.HTTPStatus)
		assert.Equal(t, 401, env.Code)
		assert.Equal(t, "无效的access_token", env.Msg)
		assert.Empty(t, hc.Token(), "HC drops its token on 401")
	})
	t.Run("bad app pair", func(t *testing.T) {
		hc := &hciottest.Client{BaseURL: f.hc.BaseURL, AppID: iotAppID, AppSecret: "wrong", HTTP: f.http.Client()}
		tok, env, err := hc.GetToken(ctx(t))
		require.NoError(t, err)
		assert.Empty(t, tok)
		assert.Equal(t, -1, env.Code)
		assert.Equal(t, "获取accessToken 失败", env.Msg)
	})
	t.Run("sliding expiry and older tokens", func(t *testing.T) {
		old, _, err := f.hc.GetToken(ctx(t))
		require.NoError(t, err)
		f.clock.Add(7000 * time.Second)
		newer, _, err := f.hc.GetToken(ctx(t))
		require.NoError(t, err)
		require.NotEqual(t, old, newer)

		f.hc.SetToken(old) // still valid: used within 7200 s, and a new one does not revoke it
		f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o2"))
		f.clock.Add(7000 * time.Second) // 14000 s after issue, 7000 s after last use
		f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o3"))

		f.clock.Add(300 * time.Second)
		f.hc.SetToken(newer) // issued 7300 s ago and never used: expired
		env, err := f.hc.Post(ctx(t), "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o4"))
		require.NoError(t, err)
		assert.Equal(t, 401, env.Code)
		f.hc.SetToken(old) // used 300 s ago
		f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o4b"))

		f.clock.Add(7200 * time.Second)
		f.hc.SetToken(old)
		env, err = f.hc.Post(ctx(t), "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o5"))
		require.NoError(t, err)
		assert.Equal(t, 401, env.Code, "7200 s idle expires it")
		assert.Equal(t, 3, f.device(gate.Code).DoorOpens(), "no rejected call reached the door")
		assert.Equal(t, uint64(2), f.srv.Stats().AuthFailures-3, "the two expiries counted (after the three subtests above)")
	})
}

func TestPathsAndMethods(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	// A prefix before /extApi and extra slashes are tolerated.
	hc := &hciottest.Client{BaseURL: f.http.URL + "//iot/", AppID: iotAppID, AppSecret: iotAppSecret, HTTP: f.http.Client()}
	_, _, err := hc.GetToken(ctx(t))
	require.NoError(t, err)
	env, err := hc.Post(ctx(t), "//extApi//machine/openDoor", hciottest.OpenDoor(gate, "p1"))
	require.NoError(t, err)
	assert.Equal(t, 0, env.Code)

	resp, err := f.http.Client().Get(f.http.URL + "/extApi/machine/openDoor")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = f.http.Client().Post(f.http.URL+"/extApi/nope", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// Bad input gets HC's error envelope and changes nothing, anywhere.
func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	now := f.clock.Now()
	r := residents[2]
	dev := f.device(gate.Code)
	good := func() map[string]any { return hciottest.AddUser(r, gate, now, "bad-1") }
	with := func(k string, v any) map[string]any {
		b := good()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 2<<10))
	cases := []struct {
		name string
		path string
		body any
		msg  string
	}{
		{"non-JSON body", "/extApi/user/addUser", []byte(`not json`), "JSON"},
		{"JSON array", "/extApi/user/addUser", []int{1}, "JSON object"},
		{"missing taskId", "/extApi/user/addUser", with("taskId", nil), "未包含taskId"},
		{"missing userId", "/extApi/user/addUser", with("userId", nil), "未包含userId"},
		{"missing faceBase64", "/extApi/user/addUser", with("faceBase64", ""), "未包含faceBase64"},
		{"object as name", "/extApi/user/addUser", with("name", map[string]any{"a": 1}), "name"},
		{"invalid base64", "/extApi/user/addUser", with("faceBase64", "!!!not base64***"), "base64"},
		{"bad data URL", "/extApi/user/addUser", with("faceBase64", "data:image/png;base64"), "base64"},
		{"oversized faceBase64", "/extApi/user/addUser", with("faceBase64", big), "过大"},
		{"bad startTime", "/extApi/user/addUser", with("startTime", "tomorrow"), "startTime"},
		{"end before start", "/extApi/user/addUser", with("endTime", "2000-01-01 00:00:00"), "endTime"},
		{"unknown machineCode", "/extApi/user/addUser", with("machineCode", "nope"), "设备不存在"},
		{"unknown machineCode openDoor", "/extApi/machine/openDoor", map[string]any{"machineCode": "nope", "taskId": "x"}, "设备不存在"},
		{"unknown hmId", "/extApi/machine/addMachine", hciottest.AddMachine(hciottest.MachineSpec{Code: "m9", ExtID: "e9", Community: community, Name: "n", HmID: "hm-404", LocationType: "1000", LocationObjID: community}, "x1"), "hmId"},
		{"driver cannot open", "/extApi/machine/addMachine", hciottest.AddMachine(hciottest.MachineSpec{Code: "m8", ExtID: "e8", Community: community, Name: "n", HmID: "hm-broken", LocationType: "1000", LocationObjID: community}, "x2"), "offline"},
		{"addMachine missing hmId", "/extApi/machine/addMachine", map[string]any{"machineCode": "m7", "taskId": "x3"}, "未包含"},
		{"deleteUser missing userId", "/extApi/user/deleteUser", map[string]any{"machineCode": gate.Code, "taskId": "x4"}, "未包含userId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := f.fail(t, tc.path, tc.body)
			assert.Contains(t, env.Msg, tc.msg)
			_, on := dev.Holds(r.ID)
			assert.False(t, on)
			assert.Empty(t, f.ledger(t, r.ID))
			assert.Len(t, f.srv.Machines(), 1)
			assert.NotContains(t, env.Msg, iotAppSecret)
		})
	}
	// After all that, the good request still works (nothing got stuck).
	f.ok(t, "/extApi/user/addUser", good())
	_, on := dev.Holds(r.ID)
	assert.True(t, on)
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, hciot.WithMaxBodyBytes(4<<10))
	f.setup(t, gate)
	b := hciottest.AddUser(residents[0], gate, f.clock.Now(), "big")
	b["faceBase64"] = strings.Repeat("A", 8<<10)
	env := f.fail(t, "/extApi/user/addUser", b)
	assert.Contains(t, env.Msg, "过大")
	_, on := f.device(gate.Code).Holds(residents[0].ID)
	assert.False(t, on)
}

// A failed command is not remembered: HC's resend of it must act.
func TestFailedCommandResendActs(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	dev := f.device(gate.Code)
	body := hciottest.AddUser(residents[0], gate, f.clock.Now(), "r1")
	dev.FailNext(fmt.Errorf("terminal: %w", accessctl.ErrOffline))
	env := f.fail(t, "/extApi/user/addUser", body)
	assert.Contains(t, env.Msg, "offline")
	assert.Empty(t, f.ledger(t, residents[0].ID), "a failed put is not in the ledger")

	f.ok(t, "/extApi/user/addUser", body)
	_, on := dev.Holds(residents[0].ID)
	assert.True(t, on)
	res := f.commandResults()
	require.GreaterOrEqual(t, len(res), 2)
	assert.False(t, res[len(res)-2].Command.OK)
	assert.Equal(t, "-1", res[len(res)-2].Command.Code)
	assert.True(t, res[len(res)-1].Command.OK)

	// A timeout leaves the outcome unknown: the ledger keeps the pair so a
	// delete still reaches the device.
	body2 := hciottest.AddUser(residents[1], gate, f.clock.Now(), "r2")
	dev.FailNext(accessctl.ErrTimeout)
	f.fail(t, "/extApi/user/addUser", body2)
	assert.Equal(t, []string{gate.Code}, f.ledger(t, residents[1].ID))
}

// Concurrent copies of one taskId act once.
func TestConcurrentSameTask(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, err := f.hc.Post(context.Background(), "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "same"))
			assert.NoError(t, err)
			assert.Equal(t, 0, env.Code)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, f.device(gate.Code).DoorOpens())
}

func TestMachineLifecycle(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	r := residents[0]
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, gate, f.clock.Now(), "u1"))

	// A replayed addMachine keeps the open device.
	f.ok(t, "/extApi/machine/addMachine", hciottest.AddMachine(gate, "again"))
	f.mu.Lock()
	assert.Equal(t, 1, f.opened[gate.Code])
	f.mu.Unlock()

	// updateMachine with a new name and direction.
	f.ok(t, "/extApi/machine/updateMachine", map[string]any{"extMachineId": gate.ExtID, "machineName": "北门", "direction": "3307", "taskId": "upd"})
	m, _ := f.srv.Machine(gate.Code)
	assert.Equal(t, "北门", m.Name)
	assert.Equal(t, accessctl.DirectionOut, m.Direction)
	f.fail(t, "/extApi/machine/updateMachine", map[string]any{"extMachineId": "nope", "taskId": "upd2"})

	// clearUser empties the device.
	f.ok(t, "/extApi/user/clearUser", map[string]any{"machineCode": gate.Code, "taskId": "clr"})
	_, on := f.device(gate.Code).Holds(r.ID)
	assert.False(t, on)

	// restartMachine and closeDoor: the fake cannot.
	env := f.fail(t, "/extApi/machine/restartMachine", map[string]any{"machineCode": gate.Code, "taskId": "rs"})
	assert.Contains(t, env.Msg, "not supported")

	// deleteMachine removes the people and forgets the device; a resend is fine.
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(r, gate, f.clock.Now(), "u2"))
	f.ok(t, "/extApi/machine/deleteMachine", hciottest.DeleteMachine(gate, "dm"))
	_, on = f.device(gate.Code).Holds(r.ID)
	assert.False(t, on, "people do not stay on a deleted terminal")
	_, known := f.srv.Machine(gate.Code)
	assert.False(t, known)
	f.ok(t, "/extApi/machine/deleteMachine", hciottest.DeleteMachine(gate, "dm2"))
	f.fail(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o-after"))

	f.ok(t, "/extApi/community/deleteCommunity", map[string]any{"extCommunityId": community, "name": "老九学堂", "taskId": "dc"})
	_, ok := f.srv.Community(community)
	assert.False(t, ok)
}

func TestOpenDoorByExtMachineID(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	f.ok(t, "/extApi/machine/openDoor", map[string]any{"extMachineId": gate.ExtID, "taskId": "e1"})
	assert.Equal(t, 1, f.device(gate.Code).DoorOpens())
}

func TestNumbersAsFields(t *testing.T) {
	f := newFixture(t)
	f.setup(t)
	// HC's JSONObjects may carry ids as numbers.
	env, err := f.hc.PostRaw(ctx(t), "/extApi/machine/addMachine", []byte(`{"machineCode":101099,"machineName":"n","machineTypeCd":9999,"locationType":1000,
		"locationObjId":702020042194860039,"extMachineId":7,"extCommunityId":702020042194860039,"hmId":"hm-1","direction":3306,"taskId":123}`))
	require.NoError(t, err)
	require.Equal(t, 0, env.Code, env.Msg)
	assert.Equal(t, "123", env.TaskID())
	m, ok := f.srv.Machine("101099")
	require.True(t, ok)
	assert.True(t, m.CommunityLevel())
}

func TestNewServerNeedsApp(t *testing.T) {
	_, err := hciot.NewServer()
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

// A machine moved to a driver that cannot open it keeps its old device:
// nothing half-applied. A new machineCode opens a new device and retires
// the old entry.
func TestUpdateMachineDriverAndCode(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	env := f.fail(t, "/extApi/machine/updateMachine", map[string]any{"extMachineId": gate.ExtID, "hmId": "hm-broken", "taskId": "u1"})
	assert.Contains(t, env.Msg, "offline")
	m, ok := f.srv.Machine(gate.Code)
	require.True(t, ok)
	assert.Equal(t, "fake", m.Driver)
	f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "o1"))
	assert.Equal(t, 1, f.device(gate.Code).DoorOpens())

	f.ok(t, "/extApi/machine/updateMachine", map[string]any{"extMachineId": gate.ExtID, "machineCode": "101099", "taskId": "u2"})
	_, ok = f.srv.Machine(gate.Code)
	assert.False(t, ok)
	m, ok = f.srv.Machine("101099")
	require.True(t, ok)
	assert.Equal(t, gate.ExtID, m.ExtID)
	assert.Equal(t, "大门", m.Name, "fields HC did not send are kept")
	f.ok(t, "/extApi/machine/openDoor", map[string]any{"extMachineId": gate.ExtID, "taskId": "o2"})
	assert.Equal(t, 1, f.device("101099").DoorOpens())

	// An update for a machine we lost (a restart) that carries everything
	// an add needs registers it.
	lost := hciottest.MachineSpec{Code: "303030", ExtID: "lost", Community: community, Name: "侧门", HmID: "hm-1", LocationType: "1000", LocationObjID: community}
	upd := hciottest.AddMachine(lost, "u3")
	f.ok(t, "/extApi/machine/updateMachine", upd)
	_, ok = f.srv.Machine("303030")
	assert.True(t, ok)
	assert.Len(t, f.srv.Machines(), 2)
}

func TestRegisterMachineAtStartup(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.srv.RegisterMachine(ctx(t), hciot.Machine{Code: "404040", ExtID: "e4", Community: community, HmID: "hm-1", LocationType: "1000", LocationObjID: community, DirectionCd: "3307"}))
	m, ok := f.srv.Machine("404040")
	require.True(t, ok)
	assert.Equal(t, accessctl.DirectionOut, m.Direction)
	dev, ok := f.srv.Device("404040")
	require.True(t, ok)
	assert.Equal(t, "404040", dev.ID())
	assert.ErrorIs(t, f.srv.RegisterMachine(ctx(t), hciot.Machine{Code: "x", HmID: "hm-404"}), hciot.ErrUnknownHmID)
	st := f.srv.Stats()
	assert.Equal(t, 1, st.Machines)
}

// faceBase64 arrives plain or with any of the data-URL prefixes HC's own
// storage code strips.
func TestFacePrefixes(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	plain := base64.StdEncoding.EncodeToString(hciottest.FaceJPEG)
	for i, prefix := range []string{"", "data:image/png;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,", "data:application/octet-stream;base64,"} {
		r := hciottest.Resident{ID: fmt.Sprintf("p%d", i), Name: "n"}
		body := hciottest.AddUser(r, gate, f.clock.Now(), fmt.Sprintf("face-%d", i))
		body["faceBase64"] = prefix + plain
		f.ok(t, "/extApi/user/addUser", body)
		g, err := f.device(gate.Code).GetGrant(ctx(t), accessctl.PersonRef{ID: r.ID})
		require.NoError(t, err)
		face, _ := g.Credential(accessctl.CredFace)
		assert.Equal(t, hciottest.FaceJPEG, face.Face.Data, prefix)
	}
}
