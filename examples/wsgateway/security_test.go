package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/examples/internal/gateway"
	"github.com/menjin/menjin/internal/testutil"
)

// running is a gateway run in-process with run(), its output captured.
type running struct {
	gw             *gateway.Gateway
	stdout, stderr *lockedBuffer
}

func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	gwc := make(chan *gateway.Gateway, 1)
	errc := make(chan error, 1)
	args = append([]string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-data", t.TempDir()}, args...)
	go func() { errc <- run(ctx, args, r.stdout, r.stderr, func(g *gateway.Gateway) { gwc <- g }) }()
	select {
	case r.gw = <-gwc:
	case err := <-errc:
		cancel()
		t.Fatalf("gateway did not start: %v\n%s", err, r.stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("gateway did not start in 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop in 10s")
		}
	})
	return r
}

func (r *running) terminal(t *testing.T, sn string, opts ...wstermtest.Option) *wstermtest.Terminal {
	t.Helper()
	term := wstermtest.NewTerminal(r.gw.URL(), append([]wstermtest.Option{wstermtest.WithSN(sn)}, opts...)...)
	t.Cleanup(func() { _ = term.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, term.WaitRegistered(ctx))
	require.Eventually(t, func() bool { return r.stdout.has("online", sn) }, 5*time.Second, 5*time.Millisecond)
	return term
}

func (r *running) postUser(t *testing.T, sn, body string) {
	t.Helper()
	resp, err := http.Post(r.gw.APIURL()+"/devices/"+sn+"/users", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
}

// impostor runs testdata/impostor.py (Python's websockets: a client we did
// not write) and returns its output lines, and all of it once it exits.
func impostor(t *testing.T, url string, args ...string) (lines <-chan string, wait func() string) {
	t.Helper()
	lines, w := testutil.RunPython(t, "websockets", 30*time.Second, append([]string{"testdata/impostor.py", url}, args...)...)
	return lines, func() string {
		out, err := w()
		require.NoError(t, err, "python output:\n%s", out)
		return out
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "python exited before %q", want)
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q from python", want)
		}
	}
}

// Issue 13: a second socket with a live terminal's serial took over its
// session, received its commands (users' passwords and faces) and had its
// passes recorded as that door's. Now it is refused and reported, and the
// API's commands keep reaching the real terminal.
func TestImpostorDoesNotGetTheTerminalsSession(t *testing.T) {
	r := startRun(t)
	const sn = "486468465489"
	real := r.terminal(t, sn)

	lines, wait := impostor(t, r.gw.URL(), "steal", sn)
	waitFor(t, lines, "READY")
	// While the impostor is (or was) connected, the host grants a user.
	r.postUser(t, sn, `{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"`+base64.StdEncoding.EncodeToString(plantedJPEG(t, ""))+`"}`)
	out := wait()

	assert.Contains(t, out, `RECV {"command":"response","content":{"code":"500","data":"session_conflict"}}`)
	assert.Contains(t, out, "CLOSED")
	assert.NotContains(t, out, "addUser", "the impostor got no command")
	assert.NotContains(t, out, "commandId")
	_, ok := real.User("12384865")
	assert.True(t, ok, "the grant reached the real terminal")

	require.Eventually(t, func() bool { return r.stdout.has("alarm", sn) }, 5*time.Second, 5*time.Millisecond)
	for _, l := range r.stdout.lines() {
		if l["kind"] == "alarm" {
			assert.Equal(t, "session_conflict", l["alarmType"])
			assert.Contains(t, l["message"], "127.0.0.2:")
		}
		assert.NotEqual(t, "mallory", l["person"], "the impostor's pass is nobody's")
		assert.NotEqual(t, "offline", l["kind"], "the real terminal stayed online")
	}
}

// A socket that never registers gets its 207 acked (A.5) but never
// delivered: it has no device to be a pass of.
func TestUnregisteredPassIsNotDelivered(t *testing.T) {
	r := startRun(t, "-accept-any")
	lines, wait := impostor(t, r.gw.URL(), "anon")
	waitFor(t, lines, "READY")
	out := wait()
	assert.Contains(t, out, `RECV {"command":"response","content":{"code":"200","data":""}}`)
	require.Eventually(t, func() bool { return r.gw.Server.Stats().UnregDropped == 1 }, 5*time.Second, 5*time.Millisecond)
	for _, l := range r.stdout.lines() {
		assert.NotEqual(t, "pass", l["kind"], "%v", l)
	}
	assert.NotContains(t, r.stderr.String(), "no -allow file", "-accept-any silences the warning")
}

// -allow admits the listed terminals only; -tls-cert/-tls-key serve wss://,
// which a client pinning the certificate reaches and plain ws:// does not.
func TestAllowListAndTLS(t *testing.T) {
	cert, key, roots := testutil.SelfSigned(t)
	allow := filepath.Join(t.TempDir(), "allow.txt")
	require.NoError(t, os.WriteFile(allow, []byte("# doors\nT-LISTED,00-16-EA-AE-3D-40\n"), 0o600))
	r := startRun(t, "-allow", allow, "-tls-cert", cert, "-tls-key", key)
	url := r.gw.URL()
	require.True(t, strings.HasPrefix(url, "wss://"), url)
	assert.Contains(t, r.stderr.String(), "terminals: wss://127.0.0.1:")

	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{RootCAs: roots}}
	register := func(sn, mac string) string {
		ws, _, err := d.Dial(url, nil)
		require.NoError(t, err)
		defer ws.Close()
		msg, _ := json.Marshal(map[string]any{"code": "205", "data": map[string]string{"sn": sn, "mac": mac}})
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, msg))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, ack, err := ws.ReadMessage()
		require.NoError(t, err)
		return string(ack)
	}
	assert.Contains(t, register("T-LISTED", "00:16:ea:ae:3d:40"), `"code":"200"`)
	assert.Contains(t, register("T-OTHER", "x"), `"code":"500"`)
	assert.Contains(t, register("T-LISTED", "00-16-EA-AE-3D-41"), `"code":"500"`, "wrong MAC")

	plain := "ws://" + strings.TrimPrefix(url, "wss://")
	_, _, err := websocket.DefaultDialer.Dial(plain, nil)
	assert.Error(t, err, "no cleartext on a TLS listener")
	_, _, err = (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(url, nil)
	assert.Error(t, err, "an unpinned client does not trust a self-signed certificate")
}

func TestTerminalFlagErrors(t *testing.T) {
	var out lockedBuffer
	err := run(context.Background(), []string{"-tls-cert", "c.pem", "-data", t.TempDir()}, &out, &out, nil)
	assert.ErrorContains(t, err, "-tls-key")
	bad := filepath.Join(t.TempDir(), "allow.txt")
	require.NoError(t, os.WriteFile(bad, []byte("a,b,c\n"), 0o600))
	err = run(context.Background(), []string{"-allow", bad, "-data", t.TempDir()}, &out, &out, nil)
	assert.ErrorContains(t, err, "line 1")
	err = run(context.Background(), []string{"-allow", "/nonexistent/allow", "-data", t.TempDir()}, &out, &out, nil)
	assert.Error(t, err)
}

// Passwords, faces and snapshots never reach the gateway's output: planted
// values go through the API, an on-device enrolment, a pass with a
// snapshot, a refused registration and broken frames, and appear in
// neither the event lines nor the log.
func TestPlantedSecretsNeverInOutput(t *testing.T) {
	const pwd = "Pl4nted-Pwd-7731"
	face := base64.StdEncoding.EncodeToString(plantedJPEG(t, "PLANTED-FACE-BYTES-0001"))
	snap := base64.StdEncoding.EncodeToString(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("PLANTED-SNAPSHOT-0002")...))
	secrets := []string{pwd, face, snap, face[8:30], snap[8:30]}

	r := startRun(t)
	term := r.terminal(t, "T1")
	body, _ := json.Marshal(wsterm.User{User: "u", UserID: "p1", Pwd: pwd, Name: "n", Role: "0", Img: face})
	r.postUser(t, "T1", string(body))
	resp, err := http.Get(r.gw.APIURL() + "/devices")
	require.NoError(t, err)
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = term.Enroll(ctx, wsterm.User{User: "u2", UserID: "p2", Pwd: pwd, Name: "n2", Role: "1", Img: face})
	require.NoError(t, err)
	require.NoError(t, term.SendReport("207", map[string]any{"eventid": "s1", "type": "1",
		"data": map[string]string{"userId": "p1", "img": snap, "door": "0"}}))
	require.NoError(t, term.SendReport("207", map[string]any{"eventid": "s2", "type": "1",
		"data": map[string]string{"userId": "p1", "img": "!!" + pwd, "door": "1"}})) // a corrupt snapshot
	require.NoError(t, term.SendRaw([]byte(`{"code":"207","data":{"pwd":"`+pwd+`","img":"`+face+`"`))) // broken JSON

	ws, _, err := websocket.DefaultDialer.Dial(r.gw.URL(), nil)
	require.NoError(t, err)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"code":"205","data":{"ip":"x","mac":"`+pwd+`"}}`)))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, _ = ws.ReadMessage()
	ws.Close()

	require.Eventually(t, func() bool {
		n := 0
		for _, l := range r.stdout.lines() {
			if l["kind"] == "pass" {
				n++
			}
		}
		return n == 2 && r.stdout.has("enrolled", "T1")
	}, 5*time.Second, 5*time.Millisecond)
	term.Disconnect()
	require.Eventually(t, func() bool { return r.stdout.has("offline", "T1") }, 5*time.Second, 5*time.Millisecond)

	all := r.stdout.String() + r.stderr.String()
	require.Contains(t, r.stderr.String(), "snapshot dropped", "the log was written")
	for _, s := range secrets {
		assert.NotContains(t, all, s)
	}
}

// plantedJPEG is a real 8×8 JPEG (the admin API decodes what it enrols)
// carrying marker in a comment segment right after SOI.
func plantedJPEG(t *testing.T, marker string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil))
	if marker == "" {
		return b.Bytes()
	}
	n := len(marker) + 2
	com := append([]byte{0xFF, 0xFE, byte(n >> 8), byte(n)}, marker...)
	return append(append(append([]byte{}, b.Bytes()[:2]...), com...), b.Bytes()[2:]...)
}
