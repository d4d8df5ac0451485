package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/examples/internal/gateway"
)

func TestMain(m *testing.M) {
	// The kill -9 test runs the real gateway as a child process of this
	// binary: main() with the arguments it was given.
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (l *lockedBuffer) has(kind, device string) bool {
	for _, m := range l.lines() {
		if m["kind"] == kind && m["device"] == device {
			return true
		}
	}
	return false
}

func TestGateway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	gwc := make(chan *gateway.Gateway, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-path", "/ws", "-data", t.TempDir()}, &stdout, &stderr,
			func(g *gateway.Gateway) { gwc <- g })
	}()
	gw := <-gwc
	require.True(t, strings.HasSuffix(gw.URL(), "/ws"))

	term := wstermtest.NewTerminal(gw.URL(), wstermtest.WithSN("486468465489"))
	defer term.Close()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	require.NoError(t, term.WaitRegistered(wctx))
	require.Eventually(t, func() bool { return stdout.has("online", "486468465489") }, 5*time.Second, 5*time.Millisecond)

	resp, err := http.Post(gw.APIURL()+"/devices/486468465489/users", "application/json",
		strings.NewReader(`{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"`+
			base64.StdEncoding.EncodeToString(stdprototest.Photo("lisi"))+`"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	_, ok := term.User("12384865")
	assert.True(t, ok)

	_, err = term.Pass(wctx, "12384865", "0")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return stdout.has("pass", "486468465489") }, 5*time.Second, 5*time.Millisecond)
	for _, l := range stdout.lines() {
		if l["kind"] == "pass" {
			assert.Equal(t, "12384865", l["person"])
			assert.Equal(t, "in", l["direction"])
		}
	}
	assert.NotContains(t, stdout.b.String(), "1234", "no password in the output")

	resp, err = http.Get(gw.APIURL() + "/devices")
	require.NoError(t, err)
	var devs []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&devs))
	resp.Body.Close()
	require.Len(t, devs, 1)
	assert.Equal(t, true, devs[0]["online"])

	term.Disconnect()
	cancel()
	require.NoError(t, <-errc)
	assert.True(t, stdout.has("offline", "486468465489"))
	assert.Contains(t, stderr.b.String(), "terminals: ws://127.0.0.1:")
}

func TestBadFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-nope"}, &out, &out, nil)
	assert.Error(t, err)
	err = run(context.Background(), []string{"-listen", "256.0.0.1:99999", "-data", t.TempDir()}, &out, &out, nil)
	assert.Error(t, err)
}
