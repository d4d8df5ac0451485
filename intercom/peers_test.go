package intercom

// Proof against peers we did not write: sipp (Debian sip-tester) and baresip.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/menjin/menjin/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePort returns a port that is free for UDP and TCP on 127.0.0.1 right now.
func freePort(t *testing.T) int { return freePorts(t, 1) }

// freePorts returns p such that p..p+n-1 are free for UDP and TCP (baresip
// binds TLS on its SIP port + 1).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	lo := net.IPv4(127, 0, 0, 1)
	for i := 0; i < 100; i++ {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: lo})
		require.NoError(t, err)
		p := u.LocalAddr().(*net.UDPAddr).Port
		u.Close()
		ok := p+n <= 65535
		for j := 0; ok && j < n; j++ {
			u, err := net.ListenUDP("udp", &net.UDPAddr{IP: lo, Port: p + j})
			if err != nil {
				ok = false
				break
			}
			l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: lo, Port: p + j})
			u.Close()
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free ports")
	return 0
}

type sippRun struct {
	out     string
	err     error
	msgFile string
}

// runSipp runs sipp bounded by -timeout and a context, in a temp dir.
func runSipp(ctx context.Context, t *testing.T, args ...string) sippRun {
	t.Helper()
	bin := testutil.RequireTool(t, "sipp")
	dir := t.TempDir()
	msg := filepath.Join(dir, "messages.log")
	if !containsArg(args, "-i") {
		args = append(args, "-i", "127.0.0.1")
	}
	args = append(args, "-nostdin", "-timeout", "15s", "-timeout_error",
		"-trace_msg", "-message_file", msg, "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
	msgs, _ := os.ReadFile(msg)
	out := buf.String() + "\n--- errors:\n" + string(errs)
	if err != nil {
		t.Logf("sipp %v: %v\n%s\n--- messages:\n%s", args, err, tail(out, 3000), tail(string(msgs), 4000))
	}
	return sippRun{out: out, err: err, msgFile: string(msgs)}
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// waitBound waits until something (sipp) has bound UDP port on 127.0.0.1.
func waitBound(t *testing.T, port int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return
		}
		u.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing bound port %d", port)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func scenario(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", "sipp", name))
	return p
}

func successfulCalls(out string) int {
	m := regexp.MustCompile(`Successful call\s+\|\s+\d+\s+\|\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// sipp as the resident: INVITE/ACK/INFO-unlock to our door station, 200 with status 200 checked.
func TestSippResidentUnlocksDoorStation(t *testing.T) {
	for _, tc := range []struct{ transport, scenario, extra string }{
		{"u1", "resident_unlock.xml", "-nd"},    // strict: the scenario takes both result INFOs itself
		{"t1", "resident_unlock_aa.xml", "-aa"}, // see the scenario's comment
	} {
		t.Run(tc.transport, func(t *testing.T) {
			door := newDoorRig(t, WithMaxCalls(8))
			ctx := testCtx(t)
			run := runSipp(ctx, t, door.Addr(), "-sf", scenario(tc.scenario), "-s", "door1", tc.extra,
				"-t", tc.transport, "-p", strconv.Itoa(freePort(t)), "-m", "3", "-r", "20", "-l", "3")
			require.NoError(t, run.err)
			assert.Equal(t, 3, successfulCalls(run.out))
			assert.EqualValues(t, 3, door.opened.Load())
			for i := 0; i < 3; i++ {
				ev := door.event(t)
				assert.Equal(t, "sipp", ev.Peer)
				assert.Equal(t, ChannelInfoJSON, ev.Channel)
			}
		})
	}
}

// The same scenario must fail when the door refuses: the status check in the
// scenario is real.
func TestSippResidentScenarioFailsOnRefusal(t *testing.T) {
	door := newDoorRig(t, WithPolicy(func(context.Context, UnlockRequest) error { return ErrUnlockDenied }))
	run := runSipp(testCtx(t), t, door.Addr(), "-sf", scenario("resident_unlock.xml"), "-s", "door1",
		"-p", strconv.Itoa(freePort(t)), "-m", "1", "-recv_timeout", "2000")
	require.Error(t, run.err, "sipp must report the refused unlock")
	assert.Equal(t, 0, successfulCalls(run.out))
	assert.EqualValues(t, 0, door.opened.Load())
}

// sipp as the door station receiving our resident's INFO pair.
func TestSippDoorStationReceivesResidentInfo(t *testing.T) {
	port := freePort(t)
	ctx := testCtx(t)
	done := make(chan sippRun, 1)
	go func() {
		done <- runSipp(ctx, t, "-sf", scenario("door_uas.xml"), "-p", strconv.Itoa(port), "-m", "1")
	}()
	waitBound(t, port)
	res, err := UnlockOnce(ctx, "127.0.0.1:0", "sip:door@127.0.0.1:"+strconv.Itoa(port), WithUser("resident"))
	require.NoError(t, err)
	assert.True(t, res.OK())
	assert.Equal(t, ResultIn2xx, res.Source)
	run := <-done
	require.NoError(t, run.err)
	assert.Equal(t, 1, successfulCalls(run.out))
	// Both copies carried the same reqsn (dual packet, §6.2).
	bodies := regexp.MustCompile(`\{"req":"unlock","reqsn":(\d+),"sip":"resident"\}`).FindAllStringSubmatch(run.msgFile, -1)
	require.Len(t, bodies, 2)
	assert.Equal(t, bodies[0][1], bodies[1][1])
	assert.Equal(t, strconv.Itoa(res.ReqSN), bodies[0][1])
	assert.Equal(t, 2, strings.Count(run.msgFile, "INFO sip:door@"))
}

// sipp registering with digest against our registrar: good and bad password.
func TestSippRegisterDigest(t *testing.T) {
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"sippuser": "s3cret"})
	require.NoError(t, err)
	defer reg.Close()
	ctx := testCtx(t)
	run := runSipp(ctx, t, reg.Addr(), "-sf", scenario("register.xml"), "-s", "sippuser", "-au", "sippuser", "-ap", "s3cret",
		"-p", strconv.Itoa(freePort(t)), "-m", "1")
	require.NoError(t, run.err)
	b, ok := reg.Lookup("sippuser")
	require.True(t, ok)
	assert.Equal(t, "sippuser", b.Contact.User)
	assert.Contains(t, run.msgFile, "qop=auth", "sipp answered the qop=auth challenge")

	run = runSipp(ctx, t, reg.Addr(), "-sf", scenario("register_bad.xml"), "-s", "sippuser", "-au", "sippuser", "-ap", "wrong",
		"-p", strconv.Itoa(freePort(t)), "-m", "1")
	require.NoError(t, run.err, "wrong password gets 403")
	run = runSipp(ctx, t, reg.Addr(), "-sf", scenario("register.xml"), "-s", "sippuser", "-au", "sippuser", "-ap", "wrong",
		"-p", strconv.Itoa(freePort(t)), "-m", "1", "-recv_timeout", "2000")
	require.Error(t, run.err, "and never 200")
	assert.EqualValues(t, 2, reg.Stats().AuthFailures)
}

// sipp as the room: it answers the door's visitor call with 183 + SDP first
// (early media) and unlocks inside the early dialog before answering.
func TestSippRoomUnlocksInEarlyDialog(t *testing.T) {
	port := freePort(t)
	ctx := testCtx(t)
	door := newDoorRig(t)
	done := make(chan sippRun, 1)
	go func() {
		done <- runSipp(ctx, t, "-sf", scenario("room_early.xml"), "-p", strconv.Itoa(port), "-m", "1")
	}()
	waitBound(t, port)
	call, err := door.CallRoom(ctx, "sip:1202@127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	ev := door.event(t)
	assert.True(t, ev.Early, "unlock arrived in the early dialog")
	assert.Equal(t, 88, ev.ReqSN)
	assert.Equal(t, "1202", ev.Peer, "the dialog's remote party is authoritative (§6.5)")
	assert.Equal(t, "room", ev.Claimed)
	require.NoError(t, call.Hangup(ctx))
	run := <-done
	require.NoError(t, run.err)
	assert.Contains(t, run.msgFile, `{"res":"unlock","reqsn":88,"status":200}`)
}

// baresip registers to our registrar, calls our (registered) door station
// through the proxy and presses '*': RFC 2833 telephone-event opens the door.
func TestBaresipRegistersCallsAndUnlocksByRFC2833(t *testing.T) {
	bin := testutil.RequireTool(t, "baresip")
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1", "bare": "pw3"})
	require.NoError(t, err)
	defer reg.Close()
	door := newDoorRig(t)
	ctx := testCtx(t)
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(ctx))

	dir := t.TempDir()
	rtp := freePorts(t, 11)
	cfg := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
audio_player		aubridge,nil
audio_source		aubridge,nil
rtp_ports		%d-%d
module_path		/usr/lib/baresip/modules
module			stdio.so
module			g711.so
module			aubridge.so
module_app		account.so
module_app		menu.so
`, freePorts(t, 2), rtp, rtp+10)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts"),
		[]byte(fmt.Sprintf("<sip:bare@%s>;auth_pass=pw3;regint=60\n", reg.Addr())), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts"), nil, 0o600))

	bctx, cancel := context.WithTimeout(ctx, 14*time.Second)
	defer cancel()
	cmd := exec.CommandContext(bctx, bin, "-f", dir, "-t", "13")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()

	said := func() string { return tail(out.String(), 3000) }
	if !assert.Eventually(t, func() bool { _, ok := reg.Lookup("bare"); return ok }, 8*time.Second, 20*time.Millisecond,
		"baresip registered with digest") {
		t.Fatalf("baresip said:\n%s", said())
	}
	_, err = io.WriteString(stdin, "/dial sip:door1@"+reg.Addr()+"\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(door.Calls()) == 1 && door.Calls()[0].State() == CallConnected },
		5*time.Second, 20*time.Millisecond, "baresip's call reached the door through the proxy")
	time.Sleep(500 * time.Millisecond) // media up
	_, err = io.WriteString(stdin, "*")
	require.NoError(t, err)
	select {
	case ev := <-door.evCh:
		assert.Equal(t, ChannelRFC2833, ev.Channel)
		assert.Equal(t, "bare", ev.Peer)
		assert.True(t, ev.Granted())
	case <-time.After(5 * time.Second):
		t.Fatalf("no unlock; baresip said:\n%s", said())
	}
	_, _ = io.WriteString(stdin, "b")
	require.Eventually(t, func() bool { return len(door.Calls()) == 0 }, 5*time.Second, 20*time.Millisecond, "baresip hung up")
	_, _ = io.WriteString(stdin, "/quit\n")
	assert.EqualValues(t, 1, door.opened.Load())
}

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// The door's ring timeout sends CANCEL after a 180 (sipp checks the CANCEL,
// answers 487 and gets the ACK).
func TestSippRingTimeoutCancels(t *testing.T) {
	port := freePort(t)
	ctx := testCtx(t)
	door := newDoorRig(t, WithRingTimeout(400*time.Millisecond))
	done := make(chan sippRun, 1)
	go func() {
		done <- runSipp(ctx, t, "-sf", scenario("room_ring_cancel.xml"), "-p", strconv.Itoa(port), "-m", "1")
	}()
	waitBound(t, port)
	_, err := door.CallRoom(ctx, "sip:1202@127.0.0.1:"+strconv.Itoa(port))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 408, se.Status)
	run := <-done
	require.NoError(t, run.err)
	assert.Equal(t, 1, successfulCalls(run.out))
	assert.Contains(t, run.msgFile, "CANCEL sip:1202@")
}
