package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPathAndNoAPI(t *testing.T) {
	gw, err := Start(Config{Listen: "127.0.0.1:0", Path: "/term"})
	require.NoError(t, err)
	assert.Equal(t, "", gw.APIURL())
	assert.True(t, strings.HasSuffix(gw.URL(), "/term"))
	_, resp, err := websocket.DefaultDialer.Dial(strings.TrimSuffix(gw.URL(), "/term")+"/other", nil)
	require.Error(t, err)
	assert.Equal(t, 404, resp.StatusCode)
	ws, _, err := websocket.DefaultDialer.Dial(gw.URL(), nil)
	require.NoError(t, err)
	ws.Close()
	require.NoError(t, gw.Close())
}

func TestEventLines(t *testing.T) {
	var buf bytes.Buffer
	sink := EventLines(&buf)
	now := time.Date(2024, 1, 15, 11, 36, 44, 0, time.UTC)
	require.NoError(t, sink.Handle(context.Background(), accessctl.Event{ID: "s:1", Kind: accessctl.KindPass, Device: accessctl.DeviceRef{ID: "s"}, ReceivedAt: now,
		Pass: &accessctl.PassEvent{Person: &accessctl.PersonRef{ID: "77986"}, Direction: accessctl.DirectionIn, Result: accessctl.Result{Granted: true}, Snapshot: &accessctl.Image{Data: []byte("secret")}}}))
	require.NoError(t, sink.Handle(context.Background(), accessctl.Event{ID: "s:on", Kind: accessctl.KindOnline, Device: accessctl.DeviceRef{ID: "s"}, ReceivedAt: now,
		Status: &accessctl.Status{Online: true, Info: accessctl.DeviceInfo{IP: "192.168.0.102"}}}))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	assert.JSONEq(t, `{"kind":"pass","device":"s","id":"s:1","at":"2024-01-15T11:36:44Z","person":"77986","direction":"in","granted":true}`, lines[0])
	var on map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &on))
	assert.Equal(t, "online", on["kind"])
	assert.Equal(t, true, on["online"])
	assert.NotContains(t, buf.String(), "c2VjcmV0", "no image bytes")
}

// The gateway serves the shared admin API (accessctl/adminapi): the routes
// wsterm cannot serve answer as every gateway does.
func TestAdminAPIOpen(t *testing.T) {
	gw, err := Start(Config{Listen: "127.0.0.1:0", API: "127.0.0.1:0"})
	require.NoError(t, err)
	defer func() { require.NoError(t, gw.Close()) }()
	term := wstermtest.NewTerminal(gw.URL(), wstermtest.WithSN("486468465489"))
	defer term.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, term.WaitRegistered(ctx))
	// The terminal has its ack; the server records it right after sending it.
	require.Eventually(t, func() bool {
		for _, tm := range gw.Server.Terminals() {
			if tm.SN == "486468465489" && tm.Online {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	post := func(path, body string) (int, string) {
		resp, err := http.Post(gw.APIURL()+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("/devices/486468465489/open", "")
	assert.Equal(t, http.StatusNotImplemented, code, "the protocol has no remote open")
	assert.Contains(t, body, `"error":`)
	code, _ = post("/devices/unknown/open", "")
	assert.Equal(t, http.StatusNotFound, code)
	req, err := http.NewRequest("PUT", gw.APIURL()+"/devices/486468465489/users/1", strings.NewReader(`{"userId":"2"}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "path and body disagree on the user")
	http.DefaultClient.CloseIdleConnections()
}
