package stdproto_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/internal/testutil"
)

// TestPythonTerminalPostsSpecExamples: a terminal we did not write (Python
// urllib) posts the source's example bodies verbatim to our edge.
func TestPythonTerminalPostsSpecExamples(t *testing.T) {
	py := testutil.RequirePythonModule(t, "urllib.request")
	edge, sink, _ := exampleEdgeFrom(t, "127.0.0.1")
	srv := startEdgeServer(t, edge)
	out, err := exec.Command(py, "testdata/python/post_examples.py", "http://"+srv, "testdata/spec").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var answers []struct {
		Path   string
		Status int
		Answer map[string]any
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var a struct {
			Path   string
			Status int
			Answer map[string]any
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a), line)
		answers = append(answers, a)
	}
	require.Len(t, answers, 11)
	for _, a := range answers {
		assert.Equal(t, 200, a.Status, a.Path)
		assert.EqualValues(t, 0, a.Answer["code"], "%s: %v", a.Path, a.Answer)
	}
	assert.Equal(t, exampleToken, answers[0].Answer["data"].(map[string]any)["token"])
	assert.Equal(t, "123456", answers[3].Answer["data"].(map[string]any)["userId"])
	assert.Equal(t, "4sewsEXT8ezMnlHlbWkjbL", answers[6].Answer["groupId"])
	// alarm, qr pass, card, ble, intercom open, elevator state, rule report
	for _, k := range []accessctl.EventKind{accessctl.KindAlarm, accessctl.KindPass, accessctl.KindPass, accessctl.KindPass,
		accessctl.KindPass, stdproto.KindElevatorState, accessctl.KindPass} {
		e := sink.next(t, k)
		assert.Equal(t, "123456789", e.Device.ID)
	}
}

// startEdgeServer serves h (an edge, or a terminal's handler) with the
// protocol's server settings on 127.0.0.1.
func startEdgeServer(t *testing.T, h http.Handler) string {
	srv := stdproto.NewServer("127.0.0.1:0", h)
	ln, err := netListen()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// TestCurlPostsMultipart: curl, as a terminal, posts /recognize and
// /faceAC/passEvent forms the way the source lists them.
func TestCurlPostsMultipart(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	edge, sink, _ := exampleEdgeFrom(t, "127.0.0.1")
	addr := startEdgeServer(t, edge)
	photo := filepath.Join(t.TempDir(), "xxx.jpg")
	require.NoError(t, os.WriteFile(photo, stdprototest.Photo("curl"), 0o600))
	run := func(args ...string) map[string]any {
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "5"}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), "%s", out)
		return m
	}
	got := run("-H", "Content-Type: application/json", "--data-binary", "@testdata/spec/B.6.1_connect_0.json", "http://"+addr+"/connect")
	require.EqualValues(t, 0, got["code"])
	got = run("-F", "token="+exampleToken, "-F", "photo=@"+photo+";type=image/jpeg", "-F", "disableEdgeDetectFace=1",
		"-F", "temperature=36.5", "http://"+addr+"/recognize")
	assert.EqualValues(t, 0, got["code"], "%v", got)
	assert.Equal(t, "王小飞", got["data"].(map[string]any)["name"])
	got = run("-F", "token="+exampleToken, "-F", "faceId=ac4af1c2-31a7-4206-9c8d-2a69cdaac066", "-F", "similarity=0.78654",
		"-F", "photo=@"+photo, "-F", "temperature=36.5", "http://"+addr+"/faceAC/passEvent")
	assert.EqualValues(t, 0, got["code"], "%v", got)
	assert.NotEmpty(t, got["data"].(map[string]any)["photoId"])
	e := sink.next(t, accessctl.KindPass)
	assert.Equal(t, accessctl.MethodFace, e.Pass.Method)
	e = sink.next(t, accessctl.KindPass)
	assert.Equal(t, "ac4af1c2-31a7-4206-9c8d-2a69cdaac066", e.Pass.Person.ID)
	// A stale token from curl: code 4.
	got = run("-H", "Content-Type: application/json", "-d", `{"token":"stale"}`, "http://"+addr+"/keepalive")
	assert.EqualValues(t, 4, got["code"])
}

// TestPythonTerminalReceivesRemoteOpenAndSyncFaces: a terminal written
// with Python's http.server checks our /connect sign with hashlib and
// receives remoteOpen and syncFaces from us.
func TestPythonTerminalReceivesRemoteOpenAndSyncFaces(t *testing.T) {
	py := testutil.RequirePythonModule(t, "http.server")
	r := newRig(t, stdproto.WithOfflineAfter(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/python/terminal_server.py", "http://"+r.addr(), "PY-TERM-01")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := make(chan map[string]any, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for range lines {
		}
	})
	// next returns the first line with key (and path); lines may arrive in
	// any order (the edge connects back while python prints), so the
	// others are kept for later calls.
	var pending []map[string]any
	match := func(m map[string]any, key, path string) bool {
		_, has := m[key]
		return has && (path == "" || m["path"] == path)
	}
	next := func(key, path string) map[string]any {
		t.Helper()
		for i, m := range pending {
			if match(m, key, path) {
				pending = append(pending[:i], pending[i+1:]...)
				return m
			}
		}
		for {
			select {
			case m, ok := <-lines:
				require.True(t, ok, "python terminal exited")
				if match(m, key, path) {
					return m
				}
				pending = append(pending, m)
			case <-ctx.Done():
				t.Fatalf("python terminal: no %s %s", key, path)
			}
		}
	}
	port := int(next("listening", "")["listening"].(float64))
	require.NoError(t, r.edge.Provision(stdproto.TerminalConfig{SN: "PY-TERM-01", Addr: "127.0.0.1:" + itoa(port)}))
	_, err = stdin.Write([]byte("go\n"))
	require.NoError(t, err)
	conn := next("connected", "")["connected"].(map[string]any)
	require.EqualValues(t, 0, conn["code"], "%v", conn)

	// The edge connects back; python verified our sign with hashlib.
	m := next("signOK", "/connect")
	assert.Equal(t, true, m["signOK"], "%v", m)
	assert.Equal(t, "edge-test", m["body"].(map[string]any)["sn"])

	dev, err := r.edge.Terminal("PY-TERM-01")
	require.NoError(t, err)
	waitOnline(t, dev, true)
	require.NoError(t, dev.OpenDoor(ctx, accessctl.OpenRequest{}))
	m = next("body", "/remoteOpen")
	assert.Equal(t, "py-token-1", m["body"].(map[string]any)["token"])
	assert.Equal(t, "close", m["connection"], "no persistent connections (B.2)")

	require.NoError(t, dev.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "p-42"}, Name: "张三",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: stdprototest.Photo("p-42")}}}}))
	m = next("body", "/faceAC/syncFaces")
	faces := m["body"].(map[string]any)["faces"].([]any)
	require.Len(t, faces, 1)
	f := faces[0].(map[string]any)
	assert.EqualValues(t, 1, f["type"])
	assert.Equal(t, "p-42", f["faceId"])
	assert.Equal(t, "张三", f["userInfo"].(map[string]any)["userName"])
	assert.Equal(t, "p-42", f["userInfo"].(map[string]any)["userId"])
	assert.Len(t, f["feature"], 16)
	assert.Len(t, f["featureMd5"], 32)
}
