package hciot_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/internal/testutil"
)

// Python's urllib, not our client, replays HC's sequence against the server.
func TestPythonHCClient(t *testing.T) {
	py := testutil.RequirePythonModule(t, "urllib.request")
	f := newFixture(t)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(c, py, "testdata/hc_peer.py", "client", f.http.URL+"/", iotAppID, iotAppSecret).CombinedOutput()
	require.NoError(t, err, "%s", out)

	type answer struct {
		Code int             `json:"code"`
		Msg  string          `json:"msg"`
		HTTP int             `json:"http"`
		Path string          `json:"path"`
		Data json.RawMessage `json:"data"`
	}
	var answers []answer
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var a answer
		require.NoError(t, json.Unmarshal([]byte(line), &a), line)
		answers = append(answers, a)
	}
	require.Len(t, answers, 10)
	for i, a := range answers {
		assert.Equal(t, 200, a.HTTP, "answer %d", i)
	}
	assert.Equal(t, -1, answers[1].Code)
	assert.Equal(t, "http header 未包含access_token", answers[1].Msg)
	for _, a := range append(answers[:1:1], answers[2:]...) {
		assert.Equal(t, 0, a.Code, "%s: %s", a.Path, a.Msg)
	}
	assert.JSONEq(t, `{"taskId":"py-t5"}`, string(answers[8].Data), "the resend is answered with its taskId")

	dev := f.device("py-1")
	require.NotNil(t, dev)
	_, u1 := dev.Holds("py-u1")
	name, u2 := dev.Holds("py-u2")
	assert.False(t, u1, "deleted")
	assert.True(t, u2)
	assert.Equal(t, "李四", name)
	assert.Equal(t, 1, dev.DoorOpens(), "the resent openDoor did not open again")
}

// Python's hashlib, not our Sign, checks every upload.
func TestPythonHCGateway(t *testing.T) {
	py := testutil.RequirePythonModule(t, "hashlib")
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, py, "testdata/hc_peer.py", "gateway", hcAppID, hcSecurityCode)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	port, ok := strings.CutPrefix(lines.Text(), "PORT ")
	require.True(t, ok, lines.Text())
	base := "http://127.0.0.1:" + port

	up := hciot.NewUploader(hcAppID, hcSecurityCode,
		hciot.WithOpenDoorURL(base+"/api/machine/openDoorLog"),
		hciot.WithHeartbeatURL(base+"/api/machine/heartbeat"))
	require.NoError(t, up.Handle(c, passEvent()))
	require.NoError(t, up.Handle(c, accessctl.Event{Kind: accessctl.KindHeartbeat, Site: accessctl.SiteRef{ID: community}, Device: accessctl.DeviceRef{ID: "101010"}}))
	tampered := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(base+"/api/machine/openDoorLog"),
		hciot.WithHTTPClient(&http.Client{Transport: tamper{}}))
	err = tampered.Handle(c, passEvent())
	require.ErrorIs(t, err, hciot.ErrUploadAuth)

	var seen []struct {
		Path   string         `json:"path"`
		SignOK bool           `json:"signOK"`
		Body   map[string]any `json:"body"`
	}
	for range 3 {
		require.True(t, lines.Scan())
		var s struct {
			Path   string         `json:"path"`
			SignOK bool           `json:"signOK"`
			Body   map[string]any `json:"body"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &s))
		seen = append(seen, s)
	}
	assert.True(t, seen[0].SignOK)
	assert.Equal(t, "张三", seen[0].Body["userName"])
	assert.True(t, seen[1].SignOK)
	assert.Equal(t, "/api/machine/heartbeat", seen[1].Path)
	assert.False(t, seen[2].SignOK, "python caught the tampered body")
	assert.Equal(t, "李四", seen[2].Body["userName"])
}
