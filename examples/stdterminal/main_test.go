package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/internal/testutil"
)

// The terminal connects to an edge, is opened remotely and swipes a card.
func TestRun(t *testing.T) {
	edge := stdproto.NewEdge(stdproto.WithOnError(func(string, error) {}))
	defer edge.Close()
	srv := httptest.NewServer(edge)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	require.NoError(t, edge.Provision(stdproto.TerminalConfig{SN: "T-EX-01", Addr: addr}))

	out := &testutil.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-edge", srv.Listener.Addr().String(), "-listen", addr, "-sn", "T-EX-01",
			"-swipe", "777342461", "-every", "100ms", "-keepalive", "200ms"}, out)
	}()
	dev, err := edge.Terminal("T-EX-01")
	require.NoError(t, err)
	require.Eventually(t, func() bool { st, _ := dev.Status(ctx); return st.Online }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return dev.OpenDoor(ctx, accessctl.OpenRequest{}) == nil }, 5*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		s := out.String()
		return strings.Contains(s, "door opened (1 so far)") && strings.Contains(s, "swiped card 777342461: accepted")
	}, 5*time.Second, 20*time.Millisecond, "%s", out)
	cancel()
	require.NoError(t, <-done)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBinaryRefusesForeignEdge drives the built program with curl: a
// /connect claiming the edge's ip, correctly signed, then /remoteOpen,
// from 127.0.0.2 does not open the door; the same from the -edge host
// does.
func TestBinaryRefusesForeignEdge(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	goTool := testutil.RequireTool(t, "go")
	bin := filepath.Join(t.TempDir(), "stdterminal")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	listen := testutil.FreeAddr(t)
	cmd := exec.Command(bin, "-edge", "127.0.0.1:1", "-listen", listen, "-sn", "T-BB-0001", "-for", "30s")
	stdout := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stdout
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "listening on") }, 10*time.Second, 20*time.Millisecond, "%s", stdout)

	post := func(from, path string, body any) map[string]any {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		out, err := exec.Command(curl, "-sS", "--max-time", "5", "--interface", from, "-H", "Content-Type: application/json",
			"--data-binary", string(b), "http://"+listen+path).CombinedOutput()
		require.NoError(t, err, "%s", out)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), "%s", out)
		return m
	}
	connect := func() map[string]any {
		now := time.Now().Unix()
		sign, err := stdproto.Sign(stdproto.SignMD5, now, "00-00-00-00-00-00", "menjin-edge", "127.0.0.1")
		require.NoError(t, err)
		return map[string]any{"sn": "menjin-edge", "time": now, "ip": "127.0.0.1", "mac": "00-00-00-00-00-00",
			"keepalive": 30, "signMethod": "md5", "sign": sign}
	}
	token := func(m map[string]any) string {
		d, _ := m["data"].(map[string]any)
		s, _ := d["token"].(string)
		return s
	}

	got := post("127.0.0.2", "/connect", connect())
	assert.EqualValues(t, 7, got["code"], "%v", got)
	got = post("127.0.0.2", "/remoteOpen", map[string]any{"token": token(got)})
	assert.EqualValues(t, 7, got["code"], "%v", got)
	time.Sleep(600 * time.Millisecond) // three polls of the program's door counter
	assert.NotContains(t, stdout.String(), "door opened")

	got = post("127.0.0.1", "/connect", connect())
	require.EqualValues(t, 0, got["code"], "%v", got)
	got = post("127.0.0.1", "/remoteOpen", map[string]any{"token": token(got)})
	require.EqualValues(t, 0, got["code"], "%v", got)
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "door opened (1 so far)") }, 5*time.Second, 20*time.Millisecond, "%s", stdout)
}

// -allow replaces the default: an edge address listed there may connect.
func TestAllowFlag(t *testing.T) {
	ps, err := parseAllow("127.0.0.2, 10.0.0.0/8")
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.True(t, ps[0].Contains(netip.MustParseAddr("127.0.0.2")))
	assert.True(t, ps[1].Contains(netip.MustParseAddr("10.1.2.3")))
	for _, bad := range []string{"edge.example", ",", "10.0.0.0/33"} {
		_, err := parseAllow(bad)
		assert.Error(t, err, bad)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.Error(t, run(ctx, []string{"-allow", "nope"}, &testutil.Buffer{}), "a bad -allow stops the program")
}
