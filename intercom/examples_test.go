package intercom

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/menjin/menjin/internal/testutil"
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

// drainKinds collects the kinds of the lines a process prints within d.
func (j *jsonLines) drainKinds(d time.Duration) []string {
	var kinds []string
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-j.ch:
			if !ok {
				return kinds
			}
			kinds = append(kinds, fmt.Sprint(m["kind"]))
		case <-deadline:
			return kinds
		}
	}
}

func countKind(kinds []string, k string) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}

// sipp as a resident from 127.0.0.2 against `sipdoor -allow 127.0.0.1/32`
// gets nothing; the same scenario from 127.0.0.1 unlocks once.
func TestSipdoorAllowListWithSipp(t *testing.T) {
	testutil.RequireTool(t, "sipp")
	door := buildExample(t, "sipdoor")
	ctx := testCtx(t)
	_, out := startJSON(t, ctx, door, "-listen", "127.0.0.1:0", "-user", "door1", "-allow", "127.0.0.1/32", "-for", "30s")
	addr := out.next(t, "listening")["addr"].(string)

	run := runSipp(ctx, t, addr, "-sf", scenario("resident_unlock.xml"), "-s", "door1", "-nd", "-i", "127.0.0.2",
		"-p", strconv.Itoa(freePort(t)), "-m", "1", "-recv_timeout", "2000")
	require.Error(t, run.err, "sipp from 127.0.0.2 must not complete the scenario")
	assert.Equal(t, 0, successfulCalls(run.out))
	assert.Contains(t, run.msgFile, "SIP/2.0 403 Forbidden")
	kinds := out.drainKinds(300 * time.Millisecond)
	assert.Zero(t, countKind(kinds, "unlock"), "%v", kinds)

	run = runSipp(ctx, t, addr, "-sf", scenario("resident_unlock.xml"), "-s", "door1", "-nd",
		"-p", strconv.Itoa(freePort(t)), "-m", "1")
	require.NoError(t, run.err)
	assert.Equal(t, 1, successfulCalls(run.out))
	u := out.next(t, "unlock")
	assert.Equal(t, map[string]any{"kind": "unlock", "channel": "info-json", "from": "sipp", "reqsn": float64(1)}, u)
	kinds = out.drainKinds(500 * time.Millisecond)
	assert.Zero(t, countKind(kinds, "unlock"), "exactly one unlock: %v", kinds)
}

// sipdoor allows 3 unlocks per call by default and -max-unlocks N.
func TestSipdoorMaxUnlocks(t *testing.T) {
	door := buildExample(t, "sipdoor")
	ctx := testCtx(t)
	for _, tc := range []struct {
		args []string
		max  int
	}{{nil, 3}, {[]string{"-max-unlocks", "1"}, 1}} {
		_, out := startJSON(t, ctx, door, append([]string{"-listen", "127.0.0.1:0", "-user", "door1", "-for", "30s"}, tc.args...)...)
		uri := out.next(t, "listening")["uri"].(string)
		res := newResident(t)
		call, err := res.CallDoor(ctx, uri)
		require.NoError(t, err)
		for i := 0; i < tc.max; i++ {
			_, err := call.Unlock(ctx)
			require.NoError(t, err, "unlock %d of %d", i+1, tc.max)
			out.next(t, "unlock")
		}
		_, err = call.Unlock(ctx)
		var se *StatusError
		require.ErrorAs(t, err, &se, "unlock %d", tc.max+1)
		assert.Equal(t, StatusForbidden, se.Status)
		assert.EqualValues(t, StatusForbidden, out.next(t, "unlock-denied")["status"])
		require.NoError(t, call.Hangup(ctx))
	}
}

// Four INVITEs from 127.0.0.2-5 answered and never ACKed: sipdoor (4 calls
// by default) still answers a legitimate caller.
func TestSipdoorAnswersWhileInvitesUnacked(t *testing.T) {
	door, resident := buildExample(t, "sipdoor"), buildExample(t, "sipresident")
	ctx := testCtx(t)
	_, out := startJSON(t, ctx, door, "-listen", "127.0.0.1:0", "-user", "door1", "-allow", "127.0.0.0/8", "-for", "30s")
	l := out.next(t, "listening")
	uri := l["uri"].(string)
	_, portStr, _ := net.SplitHostPort(l["addr"].(string))
	port, _ := strconv.Atoi(portStr)
	for i := 2; i <= 5; i++ {
		ip := "127.0.0." + strconv.Itoa(i)
		c := rawUDP(t, ip)
		got := exchange(t, c, port, sipMsg(c, "INVITE", uri, "noack-"+ip, "t", "", 1, "", "application/sdp", offerFrom(ip)))
		require.Equal(t, 200, statusOf(got), got)
	}
	res, err := exec.CommandContext(ctx, resident, "-door", uri, "-user", "room1202").Output()
	require.NoError(t, err, "sipresident was refused: %s", res)
	assert.Contains(t, string(res), `"ok":true`)
	assert.Equal(t, "room1202", out.next(t, "unlock")["from"])
}
