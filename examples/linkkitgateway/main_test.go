package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport/thingmodel"
)

const childEnv = "MENJIN_LINKKITGATEWAY_CHILD"

func TestMain(m *testing.M) {
	// The tests run the real gateway as a child process of this binary.
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// line finds the first JSON event line with kind and device.
func (s *syncBuf) line(t *testing.T, kind, device string) map[string]any {
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if l == "" || json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if m["kind"] == kind && m["device"] == device {
			return m
		}
	}
	return nil
}

var (
	doorA = thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "planted-secret-A-5f2c9e"}
	doorB = thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-b", DeviceSecret: "planted-secret-B-77a1d0"}
)

var apiClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func call(t *testing.T, method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := apiClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGatewayAsAUser runs the built gateway as a process with two doors
// configured: a door logs in, its pass appears as a JSON line, the admin
// API lists and opens it, and a door not given with -device cannot log in.
func TestGatewayAsAUser(t *testing.T) {
	mqttAddr, apiAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	cmd := testutil.StartSelf(t, childEnv, "-mqtt", mqttAddr, "-api", apiAddr, "-timeout", "3s",
		"-device", "a1DoorPK001/door-a="+doorA.DeviceSecret, "-device", "a1DoorPK001/door-b="+doorB.DeviceSecret)
	out, logs := &syncBuf{}, &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "mqtt: ") }, 10*time.Second, 20*time.Millisecond,
		"gateway not ready: %s", logs)
	broker, api := "tcp://"+mqttAddr, "http://"+apiAddr

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	door, err := linkkit.DialDoor(ctx, broker, doorA,
		linkkit.WithCheckerOptions(passcheck.WithPlainQR(), passcheck.WithDebounce(0)))
	require.NoError(t, err)
	defer door.Close()
	require.Eventually(t, func() bool { return out.line(t, "online", "a1DoorPK001/door-a") != nil }, 5*time.Second, 20*time.Millisecond,
		"no online line: %s", out)

	// A pass (a refused QR code: the door holds no grant) is acknowledged
	// only once printed.
	o, err := door.Scan(ctx, "QR-NOT-GRANTED")
	require.NoError(t, err, "the gateway acknowledged the pass")
	require.NotNil(t, o.Event)
	pass := out.line(t, "pass", "a1DoorPK001/door-a")
	require.NotNil(t, pass, "the pass line is written before the ack: %s", out)
	assert.Equal(t, false, pass["granted"])
	assert.True(t, strings.HasPrefix(pass["id"].(string), "linkkit:"), "a stable id: %v", pass["id"])

	code, body := call(t, "GET", api+"/devices", "")
	require.Equal(t, 200, code, body)
	var devs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &devs))
	require.Len(t, devs, 2)
	assert.Equal(t, "door-a", devs[0]["sn"])
	assert.Equal(t, true, devs[0]["online"])
	assert.Equal(t, "127.0.0.1", devs[0]["ip"])
	assert.Equal(t, "linkkit", devs[0]["type"])
	assert.Equal(t, false, devs[1]["online"])

	require.Eventually(t, func() bool { c, _ := call(t, "POST", api+"/devices/door-a/open", ""); return c == 200 },
		5*time.Second, 50*time.Millisecond)
	assert.Equal(t, 1, door.Opens(), "the API's open reached the door's lock once")
	code, _ = call(t, "POST", api+"/devices/door-b/open", "")
	assert.Equal(t, 404, code, "offline")
	code, _ = call(t, "POST", api+"/devices/door-z/open", "")
	assert.Equal(t, 404, code, "unknown")
	code, _ = call(t, "POST", api+"/devices/door-a/users", `{"userId":"1","name":"x","pwd":"1234"}`)
	assert.Equal(t, 501, code, "no -files: permission sync is unavailable")

	// Doors not in -device, or with the wrong secret, are refused.
	for _, tr := range []thingmodel.Triple{
		{ProductKey: "a1DoorPK001", DeviceName: "door-z", DeviceSecret: doorA.DeviceSecret},
		{ProductKey: "a1DoorPK001", DeviceName: "door-b", DeviceSecret: "guessed"},
	} {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := linkkit.DialDoor(dctx, broker, tr)
		dcancel()
		require.Error(t, err, "%s cannot log in", tr)
	}
	assert.Nil(t, out.line(t, "online", "a1DoorPK001/door-z"))
	assert.Nil(t, out.line(t, "online", "a1DoorPK001/door-b"))

	require.NoError(t, door.Close())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "clean exit on SIGTERM: %s", logs)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit within 10 s of SIGTERM")
	}
	for _, s := range []string{doorA.DeviceSecret, doorB.DeviceSecret} {
		assert.NotContains(t, out.String()+logs.String(), s, "a device secret reached the output")
	}
}

// A -device without a secret, or naming a DeviceName twice, is refused
// without echoing the secret.
func TestDeviceFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-device", "a1DoorPK001/door-a="}, io.Discard, &stderr)
	require.ErrorContains(t, err, "PK/DN=SECRET")
	err = run(context.Background(), []string{"-device", "door-a=s3cret-zero"}, io.Discard, &stderr)
	require.ErrorContains(t, err, "PK/DN=SECRET")
	assert.NotContains(t, err.Error(), "s3cret")
	err = run(context.Background(), []string{"-device", "a1DoorPK001/door-a=s3cret-one", "-device", "a2OtherPK01/door-a=s3cret-two"}, io.Discard, &stderr)
	require.ErrorContains(t, err, "given twice")
	assert.NotContains(t, stderr.String()+err.Error(), "s3cret")
	require.ErrorContains(t, run(context.Background(), nil, io.Discard, io.Discard), "no -device")
}
