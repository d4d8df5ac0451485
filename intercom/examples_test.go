package intercom

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildExample compiles examples/<name> once per test binary run.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, "../examples/"+name).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// jsonLines reads a process's stdout as JSON objects, one per line.
type jsonLines struct {
	ch chan map[string]any
}

func startJSON(t *testing.T, ctx context.Context, bin string, args ...string) (*exec.Cmd, *jsonLines) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	jl := &jsonLines{ch: make(chan map[string]any, 64)}
	go func() {
		defer close(jl.ch)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				jl.ch <- m
			} else {
				jl.ch <- map[string]any{"kind": "NOT-JSON", "line": sc.Text()}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	return cmd, jl
}

// next returns the next line of the given kind, failing on a non-JSON line.
func (j *jsonLines) next(t *testing.T, kind string) map[string]any {
	t.Helper()
	deadline := time.After(8 * time.Second)
	for {
		select {
		case m, ok := <-j.ch:
			require.True(t, ok, "process ended before a %q line", kind)
			require.NotEqual(t, "NOT-JSON", m["kind"], "stdout must be JSON lines: %v", m["line"])
			if m["kind"] == kind {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q line", kind)
		}
	}
}

func TestExamplesRegistrarDoorResident(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	reg, door, resident := buildExample(t, "sipregistrar"), buildExample(t, "sipdoor"), buildExample(t, "sipresident")
	ctx := testCtx(t)
	acc := filepath.Join(t.TempDir(), "accounts.json")
	require.NoError(t, os.WriteFile(acc, []byte(`{"door1":"pw1"}`), 0o600))

	_, regOut := startJSON(t, ctx, reg, "-listen", "127.0.0.1:0", "-accounts", acc, "-for", "30s")
	regURI := regOut.next(t, "listening")["uri"].(string)

	_, doorOut := startJSON(t, ctx, door, "-listen", "127.0.0.1:0", "-user", "door1", "-registrar", regURI, "-password", "pw1", "-for", "30s")
	doorURI := doorOut.next(t, "listening")["uri"].(string)
	r := doorOut.next(t, "registered")
	assert.Equal(t, "door1", r["user"])
	assert.Equal(t, regURI, r["registrar"])
	assert.Equal(t, "door1", regOut.next(t, "registered")["user"])

	for _, target := range []string{doorURI, doorURI + ";transport=tcp"} {
		out, err := exec.CommandContext(ctx, resident, "-door", target, "-user", "room1202").Output()
		require.NoError(t, err, "exit 0 on success")
		var res map[string]any
		require.NoError(t, json.Unmarshal(out, &res))
		assert.Equal(t, "unlock-result", res["kind"])
		assert.Equal(t, true, res["ok"])
		assert.EqualValues(t, 200, res["status"])
		u := doorOut.next(t, "unlock")
		assert.Equal(t, map[string]any{"kind": "unlock", "channel": "info-json", "from": "room1202", "reqsn": res["reqsn"]}, u,
			"exactly the issue's line")
	}
	call := doorOut.next(t, "call")
	assert.Contains(t, []any{"incoming", "connected", "ended"}, call["state"])

	// Failure: nobody listens there; exit status 1 and ok=false.
	out, err := exec.CommandContext(ctx, resident, "-door", "sip:door1@127.0.0.1:9", "-timeout", "2s").Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode())
	assert.True(t, strings.Contains(string(out), `"ok":false`), string(out))
}
