package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/internal/testutil"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// events parses stdout's JSON lines.
func (s *syncBuf) events(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func (s *syncBuf) has(t *testing.T, kind, device string) bool {
	for _, e := range s.events(t) {
		if e["kind"] == kind && e["device"] == device {
			return true
		}
	}
	return false
}

func call(t *testing.T, method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := apiClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGateway runs the gateway with one simulated terminal and drives the
// admin API: the exact flags, paths and statuses of the issue.
func TestGateway(t *testing.T) {
	termAddr := testutil.FreeAddr(t)
	out, logs := &syncBuf{}, &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-timeout", "1s", "-keepalive", "200ms", "-offline-after", "1s",
			"-terminal", "T-GW-0001=" + termAddr, "-terminal", "T-GW-0002=127.0.0.1:1", "-data", t.TempDir()}, out, logs,
			func(e, a string) { addrs <- [2]string{e, a} })
	}()
	a := <-addrs
	api := "http://" + a[1]
	sim, err := stdprototest.Start(stdprototest.Config{SN: "T-GW-0001", Edge: a[0], Listen: termAddr, Keepalive: 200 * time.Millisecond})
	require.NoError(t, err)
	defer sim.Close()
	require.Eventually(t, func() bool { return out.has(t, "online", "T-GW-0001") }, 5*time.Second, 20*time.Millisecond, "%s", logs)

	code, body := call(t, "GET", api+"/devices", "")
	require.Equal(t, 200, code)
	var devs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &devs))
	require.Len(t, devs, 2)
	assert.Equal(t, map[string]any{"sn": "T-GW-0001", "ip": "127.0.0.1", "mac": "00-16-EA-AE-3D-40", "type": "stdproto", "online": true}, devs[0])
	assert.Equal(t, false, devs[1]["online"])

	// Let the edge's connect-back finish before commanding the terminal.
	require.Eventually(t, func() bool { c, _ := call(t, "POST", api+"/devices/T-GW-0001/open", ""); return c == 200 }, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, 1, sim.DoorOpens())

	img := base64.StdEncoding.EncodeToString(stdprototest.Photo("u-7"))
	user := `{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"` + img + `"}`
	code, body = call(t, "POST", api+"/devices/T-GW-0001/users", user)
	require.Equal(t, 200, code, body)
	assert.JSONEq(t, `{"code":0,"message":"success"}`, body)
	f, ok := sim.Face("12384865")
	require.True(t, ok)
	assert.Equal(t, "李四", f.UserName)

	// Cards and Bluetooth cards become the protocol's whitelist entries.
	code, body = call(t, "POST", api+"/devices/T-GW-0001/users",
		`{"userId":"88","name":"王五","cards":["777342461"],"bleCards":["123456789"],"validTo":"2030-01-01T00:00:00Z"}`)
	require.Equal(t, 200, code, body)
	card, ok := sim.Card("777342461")
	require.True(t, ok, "the card reached the terminal")
	assert.Equal(t, "88", card.UserID)
	_, ok = sim.BLECard("123456789")
	assert.True(t, ok, "the Bluetooth card too")

	code, body = call(t, "PUT", api+"/devices/T-GW-0001/users/12384865", `{"name":"李四四"}`)
	require.Equal(t, 200, code, body)
	f, _ = sim.Face("12384865")
	assert.Equal(t, "李四四", f.UserName)

	code, body = call(t, "GET", api+"/devices/T-GW-0001/users?userId=12384865", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"name":"李四四"`)
	code, body = call(t, "GET", api+"/devices/T-GW-0001/users", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"userId":"12384865"`)

	code, _ = call(t, "DELETE", api+"/devices/T-GW-0001/users/12384865", "")
	require.Equal(t, 200, code)
	_, ok = sim.Face("12384865")
	assert.False(t, ok)
	code, body = call(t, "GET", api+"/devices/T-GW-0001/users?userId=12384865", "")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[]`, body)

	// 400, 404, 504.
	code, _ = call(t, "POST", api+"/devices/T-GW-0001/users", `{"userId":`)
	assert.Equal(t, 400, code, "bad body")
	code, _ = call(t, "POST", api+"/devices/T-GW-0001/users", `{"name":"x"}`)
	assert.Equal(t, 400, code, "no userId")
	code, _ = call(t, "POST", api+"/devices/T-GW-0001/users", `{"userId":"1","img":"!!!"}`)
	assert.Equal(t, 400, code, "img is not base64")
	code, _ = call(t, "POST", api+"/devices/NOPE-0001/open", "")
	assert.Equal(t, 404, code, "unknown")
	code, _ = call(t, "POST", api+"/devices/T-GW-0002/open", "")
	assert.Equal(t, 404, code, "offline")
	sim.SetDelay(time.Hour)
	code, _ = call(t, "POST", api+"/devices/T-GW-0001/open", "")
	assert.Equal(t, 504, code, "no answer in time")
	sim.SetDelay(0)

	// Events on stdout: pass and alarm lines.
	require.NoError(t, sim.PassCard(ctx, "777342461"))
	require.NoError(t, sim.Alarm(ctx, 4, ""))
	require.Eventually(t, func() bool { return out.has(t, "pass", "T-GW-0001") && out.has(t, "alarm", "T-GW-0001") }, 5*time.Second, 20*time.Millisecond)
	for _, e := range out.events(t) {
		if e["kind"] == "pass" {
			assert.Equal(t, "card", e["method"])
			assert.Equal(t, "777342461", e["credential"])
		}
	}
	// Offline after silence.
	require.NoError(t, sim.Pause())
	require.Eventually(t, func() bool { return out.has(t, "offline", "T-GW-0001") }, 5*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestMain(m *testing.M) {
	// The kill -9 test runs the real gateway as a child process of this
	// binary: main() with the arguments it was given.
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestAPIToken(t *testing.T) {
	const token = "stdgw-test-token-0123456789"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-api-token", token}, &syncBuf{}, &syncBuf{},
			func(e, a string) { addrs <- [2]string{e, a} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("did not start: %v", err)
	}
	get := func(auth string) int {
		req, err := http.NewRequest("GET", "http://"+a[1]+"/devices", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := apiClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 401, get(""), "no token")
	assert.Equal(t, 401, get("Bearer stdgw-wrong-token-0123456789"), "wrong token")
	assert.Equal(t, 200, get("Bearer "+token), "right token")
	cancel()
	require.NoError(t, <-done)

	t.Setenv("MENJIN_API_TOKEN", "")
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-api", "0.0.0.0:0"}, &syncBuf{}, &syncBuf{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without a token")
}

var apiClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// TestSpoofedTerminalRefused: another host replaying a provisioned
// terminal's /connect (its sn and ip, a valid sign) or its token cannot
// post a pass for that door; the refusal is logged, the real terminal's
// pass is printed.
func TestSpoofedTerminalRefused(t *testing.T) {
	termAddr := testutil.FreeAddr(t)
	out, logs := &syncBuf{}, &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-keepalive", "200ms",
			"-terminal", "T-GW-0003=" + termAddr}, out, logs, func(e, a string) { addrs <- [2]string{e, a} })
	}()
	a := <-addrs
	sim, err := stdprototest.Start(stdprototest.Config{SN: "T-GW-0003", Edge: a[0], Listen: termAddr, Keepalive: 200 * time.Millisecond})
	require.NoError(t, err)
	defer sim.Close()
	require.NoError(t, sim.WaitConnected(ctx))

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	attacker := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	post := func(path string, body any) map[string]any {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		resp, err := attacker.Post("http://"+a[0]+path, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return m
	}
	now := time.Now().Unix()
	sign, err := stdproto.Sign(stdproto.SignMD5, now, "00-16-EA-AE-3D-40", "T-GW-0003", "127.0.0.1")
	require.NoError(t, err)
	got := post("/connect", map[string]any{"sn": "T-GW-0003", "time": now, "ip": "127.0.0.1", "mac": "00-16-EA-AE-3D-40",
		"keepalive": 30, "signMethod": "md5", "sign": sign})
	assert.EqualValues(t, 7, got["code"], "%v", got)
	got = post("/cardAC/passEvent", map[string]any{"token": sim.Agent().Link().Token(), "cardId": "666"})
	assert.EqualValues(t, 7, got["code"], "%v", got)
	assert.Contains(t, logs.String(), "request refused")

	require.NoError(t, sim.PassCard(ctx, "777342461"))
	require.Eventually(t, func() bool { return out.has(t, "pass", "T-GW-0003") }, 5*time.Second, 20*time.Millisecond)
	for _, e := range out.events(t) {
		if e["kind"] == "pass" {
			assert.Equal(t, "777342461", e["credential"], "only the real terminal's pass is printed")
		}
	}
	cancel()
	require.NoError(t, <-done)
}
