package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo is the README's first command: it must finish by itself, quickly,
// print well-formed event lines and leave nothing running.
func TestDemoRunsToCompletion(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(context.Background(), &out, "", false))
	assert.Less(t, time.Since(start), 15*time.Second, "the demo must exit within about ten seconds")

	kinds := map[string]int{}
	methods := map[string]int{}
	text := out.String()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "== ") {
			continue
		}
		var ev struct {
			Kind    string `json:"kind"`
			Device  string `json:"device"`
			Method  string `json:"method"`
			Granted *bool  `json:"granted"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &ev), "not JSON: %s", line)
		require.NotEmpty(t, ev.Kind, line)
		require.NotEmpty(t, ev.Device, line)
		kinds[ev.Kind]++
		if ev.Kind == "pass" {
			methods[ev.Method]++
		}
	}
	for kind, min := range map[string]int{"online": 6, "offline": 5, "pass": 18, "heartbeat": 1, "enrolled": 1} {
		assert.GreaterOrEqual(t, kinds[kind], min, "kind %s", kind)
	}
	for _, m := range []string{"face", "card", "qr_code", "plate", "intercom"} {
		assert.Positive(t, methods[m], "no pass by %s", m)
	}
	assert.Contains(t, text, "scan: allow=false code=104 QR code have be used up")
	assert.Contains(t, text, "== done in")
	assert.Contains(t, text, "HC received pass record 3001001 for 张三, sign verified")
	assert.Contains(t, text, "HC deleteUser → terminal still holds the resident: false")
	assert.Contains(t, text, "remoteOpen: the door opened 1 time(s)")
	assert.Contains(t, text, "car 京A12345: allowed=true")
	assert.Contains(t, text, "car 沪B99999: allowed=false")
}

func TestDemoForeverStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, t.TempDir(), true) }()
	time.Sleep(3 * time.Second)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("-forever did not stop when cancelled")
	}
}
