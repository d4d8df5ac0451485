package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/examples/internal/gateway"
)

func TestMain(m *testing.M) {
	// The kill -9 test runs the real bridge as a child process of this
	// binary: main() with the arguments it was given.
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

const (
	hcAppID        = "992020051967020024"
	hcSecurityCode = "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT"
	community      = "702020042194860039"
)

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-app-id", "a", "-app-secret", "s", "-hm", "1=wsterm", "-hm", "7=other",
		"-terminals", ":9000", "-hc-app-id", "h", "-hc-security-code", "c", "-hc-open-door-url", "u1", "-hc-cmd-result-url", "u2",
		"-hc-heartbeat-url", "u3", "-simulate", "3", "-data", "/tmp/x"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, hmFlag{"1": "wsterm", "7": "other"}, cfg.hm)
	assert.Equal(t, config{listen: "127.0.0.1:0", appID: "a", appSecret: "s", hm: cfg.hm, terminals: ":9000", hcAppID: "h",
		hcSecurityCode: "c", openDoorURL: "u1", cmdURL: "u2", heartbeatURL: "u3", simulate: 3, dataDir: "/tmp/x"}, cfg)

	def, err := parseFlags([]string{"-app-id", "a", "-app-secret", "s"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, gateway.DefaultDataDir("hcbridge"), def.dataDir, "state under the user's cache directory by default")
	assert.Contains(t, def.dataDir, "menjin")

	for _, bad := range [][]string{
		{"-app-id", "a"},
		{"-app-id", "a", "-app-secret", "s", "-hm", "nodriver"},
		{"-app-id", "a", "-app-secret", "s", "-hm", "=x"},
		{"-app-id", "a", "-app-secret", "s", "-hc-open-door-url", "u"},
		{"-app-id", "a", "-app-secret", "s", "-simulate", "-1"},
		{"-app-id", "a", "-app-secret", "s", "extra"},
		{"-app-id", "a", "-app-secret", "s", "-data", ""},
	} {
		_, err := parseFlags(bad, io.Discard)
		assert.Error(t, err, "%q", bad)
	}
}

// The device side, for tests: a simulated terminal by serial number, what
// it holds, a pass on it, and a reconnect.
func (t *terminals) terminal(sn string) *wstermtest.Terminal {
	for _, sim := range t.simulated() {
		if sim.SN() == sn {
			return sim
		}
	}
	return nil
}

func (t *terminals) holds(sn, personID string) (string, bool) {
	sim := t.terminal(sn)
	if sim == nil {
		return "", false
	}
	u, ok := sim.User(personID)
	return u.Name, ok
}

func (t *terminals) pass(ctx context.Context, sn, personID string) error {
	_, err := t.terminal(sn).Pass(ctx, personID, "0")
	return err
}

// reconnect drops a terminal's connection and waits until it registered
// again.
func (t *terminals) reconnect(ctx context.Context, sn string) error {
	sim := t.terminal(sn)
	n := sim.Stats().Registrations
	sim.Drop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sim.Stats().Registrations <= n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return t.waitOnline(ctx, sim)
}

// syncBuffer is stdout for the bridge.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// line is what gateway.EventLines prints.
type line struct {
	Kind   accessctl.EventKind `json:"kind"`
	Device string              `json:"device"`
	ID     string              `json:"id"`
	Person string              `json:"person"`
}

func (s *syncBuffer) lines(t *testing.T) []line {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []line
	for _, text := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if text == "" {
			continue
		}
		var l line
		require.NoError(t, json.Unmarshal([]byte(text), &l), text)
		out = append(out, l)
	}
	return out
}

// runBridge runs the bridge until the test ends.
func runBridge(t *testing.T, cfg config, stdout io.Writer) *bridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *bridge, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, stdout, slog.New(slog.NewTextHandler(io.Discard, nil)), func(b *bridge) { ready <- b })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case b := <-ready:
		return b
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("bridge did not start")
	}
	return nil
}

// The whole bridge, run as the flags say, driven by HC's sequence.
func TestBridgeRunsHCSequence(t *testing.T) {
	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode)
	defer hc.Close()
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-app-id", "iot", "-app-secret", "iot-secret", "-hm", "1=wsterm",
		"-hc-app-id", hcAppID, "-hc-security-code", hcSecurityCode, "-hc-open-door-url", hc.OpenDoorURL(),
		"-hc-cmd-result-url", hc.CmdResultURL(), "-hc-heartbeat-url", hc.HeartbeatURL(), "-simulate", "2", "-data", t.TempDir()}, io.Discard)
	require.NoError(t, err)

	out := &syncBuffer{}
	b := runBridge(t, cfg, out)

	c, cc := context.WithTimeout(context.Background(), 20*time.Second)
	defer cc()
	client := &hciottest.Client{BaseURL: "http://" + b.ExtAPIAddr + "/", AppID: "iot", AppSecret: "iot-secret"}
	_, env, err := client.GetToken(c)
	require.NoError(t, err)
	require.Equal(t, 0, env.Code)
	ok := func(path string, body map[string]any) {
		t.Helper()
		env, err := client.Post(c, path, body)
		require.NoError(t, err)
		require.Equal(t, 0, env.Code, "%s: %s", path, env.Msg)
		require.Equal(t, body["taskId"], env.TaskID())
	}
	gate := hciottest.MachineSpec{Code: "sim-1", ExtID: "e1", Community: community, Name: "大门", HmID: "1", LocationType: "1000", LocationObjID: community, Direction: "3306"}
	unit := hciottest.MachineSpec{Code: "sim-2", ExtID: "e2", Community: community, Name: "1单元", HmID: "1", LocationType: "2000", LocationObjID: "unit-1", Direction: "3307"}
	zhang := hciottest.Resident{ID: "u-1", Name: "张三", Face: hciottest.FaceJPEG}
	li := hciottest.Resident{ID: "u-2", Name: "李四", Face: hciottest.FaceJPEG, DataURL: true}

	ok("/extApi/community/addCommunity", hciottest.AddCommunity(hciottest.CommunitySpec{ID: community, Name: "老九学堂", Address: "西宁", CityCode: "630100"}, "t1"))
	ok("/extApi/machine/addMachine", hciottest.AddMachine(gate, "t2"))
	ok("/extApi/machine/addMachine", hciottest.AddMachine(unit, "t3"))
	side := b.Terminals
	// A terminal HC knows comes (back) online: HC hears a heartbeat.
	require.NoError(t, side.reconnect(c, "sim-1"))

	now := time.Now()
	ok("/extApi/user/addUser", hciottest.AddUser(zhang, gate, now, "t4"))
	ok("/extApi/user/addUser", hciottest.AddUser(li, gate, now, "t5"))
	ok("/extApi/user/addUser", hciottest.AddUser(zhang, unit, now, "t6"))

	for _, id := range []string{"u-1", "u-2"} {
		_, on := side.holds("sim-1", id)
		assert.True(t, on, "%s on sim-1", id)
	}
	name, on := side.holds("sim-2", "u-1")
	assert.True(t, on)
	assert.Equal(t, "张三", name)

	// The WebSocket terminals cannot open a door on command: HC is told so
	// in its envelope, and the result goes to 3002001 as a failure.
	env, err = client.Post(c, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "t7"))
	require.NoError(t, err)
	assert.Equal(t, -1, env.Code)
	assert.Contains(t, env.Msg, "not supported")

	// A pass on the terminal goes out as a JSON line and to HC's 3001001.
	require.NoError(t, side.pass(c, "sim-1", "u-2"))

	// HC's owner delete reaches the gate only; the bridge clears the unit door too.
	del := hciottest.DeleteUser(zhang, gate, "t8")
	ok("/extApi/user/deleteUser", del)
	ok("/extApi/user/deleteUser", del) // resend
	_, on = side.holds("sim-1", "u-1")
	assert.False(t, on)
	_, on = side.holds("sim-2", "u-1")
	assert.False(t, on, "cascaded to the unit door")
	_, on = side.holds("sim-1", "u-2")
	assert.True(t, on)
	// A resend of the addUser that already succeeded does not bring 张三 back.
	ok("/extApi/user/addUser", hciottest.AddUser(zhang, gate, now, "t4"))
	_, on = side.holds("sim-1", "u-1")
	assert.False(t, on, "a replayed addUser is answered, not re-applied")
	u, _ := side.terminal("sim-1").User("u-2")
	assert.NotEmpty(t, u.Img, "the face reached the terminal")

	// Every command and resend reports its result; one pass record; at
	// least one heartbeat.
	if !hc.Wait(12, 10*time.Second) {
		for _, u := range hc.Uploads() {
			t.Logf("%s %s", u.Path, u.Raw)
		}
		t.Fatalf("uploads: %d, refused %v", len(hc.Uploads()), hc.Refused())
	}
	hb := hc.UploadsTo(hciottest.HeartbeatPath)
	require.NotEmpty(t, hb)
	assert.Equal(t, "sim-1", hb[0].Field("machineCode"))
	assert.Equal(t, community, hb[0].Field("extCommunityId"))
	pass := hc.UploadsTo(hciottest.OpenDoorLogPath)
	require.Len(t, pass, 1)
	assert.Equal(t, "u-2", pass[0].Field("userId"))
	assert.Equal(t, "李四", pass[0].Field("userName"))
	assert.Equal(t, community, pass[0].Field("extCommunityId"))
	assert.Equal(t, "sim-1", pass[0].Field("machineCode"))
	codes := map[string][]string{}
	for _, u := range hc.UploadsTo(hciottest.CmdResultPath) {
		codes[u.Field("taskId")] = append(codes[u.Field("taskId")], u.Field("code"))
	}
	assert.Equal(t, map[string][]string{"t1": {"0"}, "t2": {"0"}, "t3": {"0"}, "t4": {"0", "0"}, "t5": {"0"}, "t6": {"0"}, "t7": {"-1"}, "t8": {"0", "0"}}, codes)
	assert.Empty(t, hc.Refused(), "every sign verified")

	var passes []line
	results := 0
	for _, l := range out.lines(t) {
		switch l.Kind {
		case accessctl.KindPass:
			passes = append(passes, l)
		case accessctl.KindCommandResult:
			results++
		}
	}
	require.Len(t, passes, 1)
	assert.Equal(t, "sim-1", passes[0].Device)
	assert.Equal(t, "u-2", passes[0].Person)
	assert.Equal(t, 10, results, "every command and resend printed one line")
}
