package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/examples/internal/gateway"
	"github.com/menjin/menjin/internal/testutil"
)

const testToken = "wsgw-test-token-0123456789"

// get answers the status of GET url with auth as the Authorization header
// ("" for none).
func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func TestAPIToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	gwc := make(chan *gateway.Gateway, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-api-token", testToken, "-data", t.TempDir()}, &stdout, &stderr,
			func(g *gateway.Gateway) { gwc <- g })
	}()
	var gw *gateway.Gateway
	select {
	case gw = <-gwc:
	case err := <-errc:
		t.Fatalf("gateway did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start in 10 s")
	}
	code, challenge := get(t, gw.APIURL()+"/devices", "")
	assert.Equal(t, http.StatusUnauthorized, code, "no token")
	assert.Equal(t, `Bearer realm="menjin"`, challenge)
	code, _ = get(t, gw.APIURL()+"/devices", "Bearer wrong-token-0123456789abc")
	assert.Equal(t, http.StatusUnauthorized, code, "wrong token")
	code, _ = get(t, gw.APIURL()+"/devices", "Bearer "+testToken)
	assert.Equal(t, http.StatusOK, code, "right token")
	cancel()
	require.NoError(t, <-errc)
	assert.NotContains(t, stderr.b.String(), testToken, "the token is never logged")
}

func TestAPIAddrWithoutToken(t *testing.T) {
	t.Setenv(gateway.EnvAPIToken, "")
	var out lockedBuffer
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-api", "0.0.0.0:0", "-data", t.TempDir()}, &out, &out, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without a token")
	err = run(context.Background(), []string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-api-token", "short", "-data", t.TempDir()}, &out, &out, nil)
	require.Error(t, err, "a token too short to matter")
}

// The built program refuses to start with the API on every interface and
// no token, and serves it with the token from the environment.
func TestBinaryAPIToken(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := testutil.BuildProgram(ctx, t, "wsgateway")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, gateway.EnvAPIToken+"=") {
			env = append(env, kv)
		}
	}

	port := testutil.FreeAddr(t)[len("127.0.0.1:"):]
	refused := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0", "-api", "0.0.0.0:"+port, "-data", t.TempDir(), "-for", "5s")
	refused.Env = env
	out, err := refused.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "exits non-zero: %s", out)
	assert.NotEqual(t, 0, exit.ExitCode())
	assert.Contains(t, string(out), "wsgateway: refusing to serve the admin API on 0.0.0.0:"+port+" without a token")

	cmd := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-data", t.TempDir(), "-for", "30s")
	cmd.Env = append(env, gateway.EnvAPIToken+"="+testToken)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := regexp.MustCompile(`api: (http://\S+)`)
	lines := bufio.NewScanner(stderr)
	api := ""
	for api == "" && lines.Scan() {
		if m := ready.FindStringSubmatch(lines.Text()); m != nil {
			api = m[1]
		}
	}
	require.NotEmpty(t, api, "no ready line")
	go func() {
		for lines.Scan() { // keep draining the log
		}
	}()
	status := func(args ...string) string {
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...).Output()
		require.NoError(t, err)
		return string(out)
	}
	assert.Equal(t, "401", status(api+"/devices"))
	assert.Equal(t, "401", status("-H", "Authorization: Bearer not-the-token-0123456789", api+"/devices"))
	assert.Equal(t, "200", status("-H", "Authorization: Bearer "+testToken, api+"/devices"))
}
