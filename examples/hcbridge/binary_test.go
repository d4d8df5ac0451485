package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
)

// The built program, driven by curl as HC would drive it, stops cleanly on
// SIGTERM.
func TestBinaryWithCurl(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := testutil.BuildProgram(ctx, t, "hcbridge")

	cmd := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0", "-app-id", "iot", "-app-secret", "iot-secret", "-hm", "1=wsterm", "-simulate", "1", "-data", t.TempDir())
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var addr string
	ready := regexp.MustCompile(`hcbridge ready.* extApi=(\S+)`)
	lines := bufio.NewScanner(stderr)
	for addr == "" && lines.Scan() {
		if m := ready.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	require.NotEmpty(t, addr, "no ready line")
	go func() {
		for lines.Scan() { // keep draining the log
		}
	}()

	curlJSON := func(args ...string) map[string]any {
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--max-time", "10"}, args...)...).Output()
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(out, &v), "%s", out)
		return v
	}
	tok := curlJSON("http://" + addr + "//extApi/auth/getAccessToken?appId=iot&appSecret=iot-secret")
	require.Equal(t, float64(0), tok["code"])
	token := tok["data"].(map[string]any)["access_token"].(string)
	res := curlJSON("-H", "Content-Type: application/json", "-H", "access_token: "+token,
		"--data", `{"machineCode":"sim-1","machineName":"大门","machineTypeCd":"9999","locationType":"1000","locationObjId":"c1","extMachineId":"e1","extCommunityId":"c1","hmId":"1","direction":"3306","taskId":"curl-1"}`,
		"http://"+addr+"//extApi/machine/addMachine")
	assert.Equal(t, float64(0), res["code"], res["msg"])
	assert.Equal(t, "curl-1", res["data"].(map[string]any)["taskId"])
	res = curlJSON("-H", "Content-Type: application/json", "--data", `{"machineCode":"sim-1","taskId":"curl-2"}`, "http://"+addr+"/extApi/machine/openDoor")
	assert.Equal(t, float64(-1), res["code"])
	assert.Equal(t, "http header 未包含access_token", res["msg"])

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "exits 0 on SIGTERM")
	var results []string
	for _, l := range stdout.lines(t) {
		if l.Kind == accessctl.KindCommandResult {
			results = append(results, l.ID)
		}
	}
	assert.Equal(t, []string{"hc-task-curl-1-1"}, results, "the command result was printed as a JSON line")
}
