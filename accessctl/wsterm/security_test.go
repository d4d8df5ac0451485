package wsterm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// foreignDial opens a socket from 127.0.0.2, a host other than the real
// terminal's, so that the alarm can be checked to name the newcomer.
func foreignDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}).Dial}
	ws, _, err := d.Dial(url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readUntilClosed returns every message the server sent until it closed.
func readUntilClosed(t *testing.T, ws *websocket.Conn) []string {
	t.Helper()
	var got []string
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close the socket")
			return got
		}
		got = append(got, string(m))
	}
}

// A second socket claiming the serial of a terminal that heartbeats is
// refused: it gets no command, the real terminal keeps its session and its
// commands, nothing the newcomer reported is recorded as that door's, and
// an alarm names the newcomer's address.
func TestLiveSessionCannotBeStolen(t *testing.T) {
	e := newEnv(t, wsterm.WithInterval(5*time.Second))
	real := e.terminal(t, "T1", wstermtest.WithHeartbeat(50*time.Millisecond))
	d := e.device(t, "T1")

	imp := foreignDial(t, e.url)
	send(t, imp, `{"code":"207","data":{"eventid":"x1","type":"1","data":{"userId":"mallory","door":"0"}}}`)
	send(t, imp, `{"code":"205","data":{"ip":"10.9.9.9","mac":"m","sn":"T1","type":"0"}}`)
	got := readUntilClosed(t, imp)
	require.Len(t, got, 2, "the early 207 ack and the 205 refusal, then close")
	assert.Equal(t, ack200, got[0])
	assert.JSONEq(t, `{"command":"response","content":{"code":"500","data":"session_conflict"}}`, got[1])

	alarm := e.sink.wait(t, accessctl.KindAlarm)
	assert.Equal(t, "T1", alarm.Device.ID)
	require.NotNil(t, alarm.Alarm)
	assert.Equal(t, wsterm.AlarmSessionConflict, alarm.Alarm.Type)
	assert.Contains(t, alarm.Alarm.Message, "127.0.0.2:", "the impostor's address")

	u := wsterm.User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: jpegB64}
	require.NoError(t, d.AddUser(ctxT(t), u))
	_, ok := real.User("12384865")
	assert.True(t, ok, "the command reached the real terminal")
	require.NoError(t, d.DeleteUser(ctxT(t), "12384865", ""))
	_, ok = real.User("12384865")
	assert.False(t, ok, "and so does the revocation")

	st, err := d.Status(ctxT(t))
	require.NoError(t, err)
	assert.True(t, st.Online)
	assert.NotEqual(t, "10.9.9.9", st.Info.IP, "the refused 205 changed nothing")
	assert.Empty(t, e.sink.of(accessctl.KindPass), "the impostor's pass is not T1's")
	assert.Empty(t, e.sink.of(accessctl.KindOffline), "the real terminal never went offline")
	s := e.srv.Stats()
	assert.Equal(t, uint64(1), s.Conflicts)
	assert.Equal(t, uint64(1), s.UnregDropped)
	assert.Zero(t, s.Replaced)
}

// An impostor retrying in a loop raises one alarm per window, not one per
// attempt (the sink may be a durable outbox), but every attempt is counted.
func TestSessionConflictAlarmsAreRateLimited(t *testing.T) {
	e := newEnv(t, wsterm.WithInterval(5*time.Second))
	e.terminal(t, "T1", wstermtest.WithHeartbeat(50*time.Millisecond))
	for range 3 {
		imp := foreignDial(t, e.url)
		send(t, imp, `{"code":"205","data":{"sn":"T1"}}`)
		readUntilClosed(t, imp)
	}
	require.Eventually(t, func() bool { return e.srv.Stats().Conflicts == 3 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, e.sink.of(accessctl.KindAlarm), 1)
}

// A registered socket cannot switch to another live terminal's serial
// either.
func TestRegisteredSocketCannotClaimAnotherLiveSerial(t *testing.T) {
	e := newEnv(t, wsterm.WithInterval(5*time.Second))
	real := e.terminal(t, "T1", wstermtest.WithHeartbeat(50*time.Millisecond))
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"205","data":{"sn":"T2"}}`)
	recv(t, ws)
	send(t, ws, `{"code":"205","data":{"sn":"T1"}}`)
	got := readUntilClosed(t, ws)
	require.NotEmpty(t, got)
	assert.Contains(t, got[0], "session_conflict")
	require.NoError(t, e.device(t, "T1").AddUser(ctxT(t), wsterm.User{UserID: "9", Img: jpegB64}))
	_, ok := real.User("9")
	assert.True(t, ok)
}

// The allow-list admits listed serials (with their MAC when one is listed)
// and refuses the rest per A.5: 205 answered "500", socket closed.
func TestAllowList(t *testing.T) {
	list, err := wsterm.ParseAllowList(strings.NewReader("# site A\nT1, 00-16-ea-ae-3d-40\n\nT2\n"))
	require.NoError(t, err)
	e := newEnv(t, wsterm.WithAllowList(list...))
	e.terminal(t, "T1", wstermtest.WithAddress("10.0.0.1", "00:16:EA:AE:3D:40")) // other notation, same MAC
	e.terminal(t, "T2", wstermtest.WithAddress("10.0.0.2", "anything"))
	for sn, mac := range map[string]string{"T3": "x", "T1": "00-16-EA-AE-3D-41"} {
		ws := rawTerminal(t, e)
		send(t, ws, fmt.Sprintf(`{"code":"205","data":{"sn":%q,"mac":%q}}`, sn, mac))
		got := readUntilClosed(t, ws)
		require.Len(t, got, 1, sn)
		var ack struct {
			Content struct{ Code, Data string } `json:"content"`
		}
		require.NoError(t, json.Unmarshal([]byte(got[0]), &ack))
		assert.Equal(t, "500", ack.Content.Code, sn)
	}
	assert.Equal(t, uint64(2), e.srv.Stats().Rejected)
	assert.Zero(t, e.srv.Stats().Conflicts, "refused by the list before the session check")

	open := newEnv(t, wsterm.WithAllowList(list...), wsterm.WithAcceptUnlisted())
	open.terminal(t, "T3")
	ws := rawTerminal(t, open)
	send(t, ws, `{"code":"205","data":{"sn":"T1","mac":"wrong"}}`)
	assert.Contains(t, readUntilClosed(t, ws)[0], `"500"`, "a listed serial still needs its MAC")
}

func TestParseAllowListErrors(t *testing.T) {
	for _, in := range []string{",MAC\n", "T1,a,b\n", strings.Repeat("x", 300) + "\n"} {
		_, err := wsterm.ParseAllowList(strings.NewReader(in))
		assert.ErrorIs(t, err, accessctl.ErrInvalid, "%.20q", in)
	}
	got, err := wsterm.ParseAllowList(strings.NewReader("\uFEFF A1 \r\n#c\r\nB2 , m \r\n"))
	require.NoError(t, err)
	assert.Equal(t, []wsterm.Allowed{{SN: "A1"}, {SN: "B2", MAC: "m"}}, got)
}

func FuzzParseAllowList(f *testing.F) {
	f.Add("# site A\nT1, 00-16-EA-AE-3D-40\n\nT2\n")
	f.Add("486468465489,31231E2EW12W12\n")
	f.Add(",x\na,b,c\n")
	f.Fuzz(func(t *testing.T, in string) {
		list, err := wsterm.ParseAllowList(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, accessctl.ErrInvalid) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, a := range list {
			if a.SN == "" || strings.ContainsAny(a.SN, ",\n") || strings.ContainsAny(a.MAC, ",\n") {
				t.Fatalf("bad entry %+v", a)
			}
		}
	})
}

// Before its 205 a socket may send small messages only; after, face-sized.
func TestReadLimitGrowsAfterRegistration(t *testing.T) {
	e := newEnv(t, wsterm.WithPreRegisterReadLimit(1024))
	big := `{"code":"206","data":{"pad":"` + strings.Repeat("A", 4096) + `"}}`

	anon := rawTerminal(t, e)
	_ = anon.WriteMessage(websocket.TextMessage, []byte(big))
	_, _, err := anon.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)

	reg := rawTerminal(t, e)
	send(t, reg, `{"code":"205","data":{"sn":"T1"}}`)
	recv(t, reg)
	send(t, reg, big)
	assert.Equal(t, ack200, recv(t, reg), "registered: the message is read")
	// gorilla sends the close frame before our counter moves: wait for it.
	require.Eventually(t, func() bool { return e.srv.Stats().Transport.OversizedFrames == 1 }, 5*time.Second, time.Millisecond)
}

// Past the cap of unregistered sockets, upgrades are closed at once; a
// socket that registers frees its place.
func TestUnregisteredSocketsAreCapped(t *testing.T) {
	e := newEnv(t, wsterm.WithMaxUnregistered(2))
	a, _ := rawTerminal(t, e), rawTerminal(t, e)
	require.Eventually(t, func() bool { return e.srv.Stats().Connections == 2 }, 5*time.Second, time.Millisecond)
	over := rawTerminal(t, e)
	require.NoError(t, over.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _, err := over.ReadMessage()
	require.Error(t, err, "closed at once")
	assert.Equal(t, uint64(1), e.srv.Stats().UnregRefused)

	send(t, a, `{"code":"205","data":{"sn":"T1"}}`)
	recv(t, a)
	c := rawTerminal(t, e)
	send(t, c, `{"code":"205","data":{"sn":"T2"}}`)
	assert.Contains(t, recv(t, c), `"200"`, "a place was free again")
}

// The bound the pre-registration limit buys: 20 anonymous sockets each
// sending a 15 MiB message cost the server almost nothing, where a 16 MiB
// limit let each one buffer (and amplify) the whole message.
func TestHostileUnregisteredSocketsStayCheap(t *testing.T) {
	e := newEnv(t)
	payload := []byte(`{"code":"207","data":{"img":"` + strings.Repeat("A", 15<<20) + `"}}`)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for range 20 {
		ws := rawTerminal(t, e)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_ = ws.WriteMessage(websocket.TextMessage, payload) // fails once the server closes
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, _ = ws.ReadMessage()
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return e.srv.Stats().Transport.OversizedFrames == 20 }, 10*time.Second, 5*time.Millisecond)
	close(stop)
	<-sampled
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("heap grew by at most %d KiB under 20 × 15 MiB", grew>>10)
	assert.Less(t, grew, int64(16<<20), "20 × 15 MiB (300 MiB) from anonymous sockets must not be buffered")
	assert.Empty(t, e.sink.of(accessctl.KindPass))
}

// What the server remembers of terminals that left is bounded: 8,000
// distinct serials that each register, report and leave leave at most
// maxOffline records, and little heap.
func TestPerSerialStateIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("8,000 connections")
	}
	const n, keep = 8000, 500
	e := newEnv(t, wsterm.WithForget(keep, time.Hour))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ws, _, err := websocket.DefaultDialer.Dial(e.url, nil)
				if !assert.NoError(t, err) {
					continue
				}
				sn := fmt.Sprintf("SN%05d", i)
				_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"code":"205","data":{"sn":"`+sn+`"}}`+
					`{"code":"207","data":{"eventid":"e1","type":"1","data":{"userId":"u"}}}`))
				_, _, _ = ws.ReadMessage()
				_, _, _ = ws.ReadMessage()
				_ = ws.Close()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Eventually(t, func() bool { return len(e.sink.of(accessctl.KindOffline)) == n }, 60*time.Second, 10*time.Millisecond)

	terms := e.srv.Terminals()
	assert.LessOrEqual(t, len(terms), keep)
	assert.GreaterOrEqual(t, e.srv.Stats().Forgotten, uint64(n-keep))
	e.sink.mu.Lock()
	e.sink.events = nil // the recorder's own copies are not the server's state
	e.sink.mu.Unlock()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d serials seen, %d remembered, heap +%d KiB", n, len(terms), grew>>10)
	assert.Less(t, grew, int64(4<<20))
}
