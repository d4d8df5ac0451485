package wsterm_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 10*time.Minute)) }

func TestRegisterStatusAndOnlineEvent(t *testing.T) {
	e := newEnv(t)
	e.terminal(t, "486468465489", wstermtest.WithAddress("192.168.0.102", "31231E2EW12W12"), wstermtest.WithType("2"))
	st, err := e.device(t, "486468465489").Status(ctxT(t))
	require.NoError(t, err)
	assert.True(t, st.Online)
	assert.Equal(t, "486468465489", st.Device.ID)
	assert.Equal(t, "192.168.0.102", st.Info.IP)
	assert.Equal(t, "31231E2EW12W12", st.Info.MAC, "mac is opaque (C.A.20)")
	assert.Equal(t, accessctl.RoleEntry, st.Info.Role, "type 2 is an entry door")
	assert.False(t, st.LastSeen.IsZero())
	on := e.sink.wait(t, accessctl.KindOnline)
	assert.Equal(t, "486468465489", on.Device.ID)
	require.NotNil(t, on.Status)
	assert.True(t, on.Status.Online)
	assert.Equal(t, uint64(1), e.srv.Stats().Registrations)
	assert.Equal(t, []wsterm.Terminal{{SN: "486468465489", IP: "192.168.0.102", MAC: "31231E2EW12W12", Type: "2", Online: true}},
		stripTimes(e.srv.Terminals()))
}

func stripTimes(ts []wsterm.Terminal) []wsterm.Terminal {
	for i := range ts {
		ts[i].Since, ts[i].LastSeen = time.Time{}, time.Time{}
	}
	return ts
}

func TestUnknownDeviceIsOffline(t *testing.T) {
	e := newEnv(t)
	d := e.device(t, "nobody")
	st, err := d.Status(ctxT(t))
	require.NoError(t, err)
	assert.False(t, st.Online)
	err = d.AddUser(ctxT(t), wsterm.User{UserID: "1", Img: jpegB64})
	assert.ErrorIs(t, err, accessctl.ErrOffline)
	_, err = e.srv.Device("")
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestEveryCommand(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	d := e.device(t, "T1")
	ctx := ctxT(t)

	u := wsterm.User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: jpegB64}
	require.NoError(t, d.AddUser(ctx, u))
	got, ok := term.User("12384865")
	require.True(t, ok)
	assert.Equal(t, u, got)

	require.NoError(t, d.EditUser(ctx, wsterm.User{UserID: "12384865", Name: "李四四"}))
	got, _ = term.User("12384865")
	assert.Equal(t, "李四四", got.Name)
	assert.Equal(t, "1234", got.Pwd, "absent fields stay unchanged")

	users, err := d.SelectUser(ctx, wsterm.UserQuery{UserID: "12384865"})
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Equal(t, "李四四", users[0].Name)

	enrolled, err := d.CompareUser(ctx, jpegB64)
	require.NoError(t, err)
	assert.True(t, enrolled)
	enrolled, err = d.CompareFace(ctx, accessctl.Image{Data: []byte{0xFF, 0xD8, 0xFF, 1}})
	require.NoError(t, err)
	assert.False(t, enrolled)

	eventID, err := term.Pass(ctx, "12384865", "1")
	require.NoError(t, err)
	ev, err := d.QueryEvent(ctx, eventID)
	require.NoError(t, err)
	require.NotNil(t, ev.Pass)
	assert.Equal(t, "12384865", ev.Pass.Person.ID)
	assert.Equal(t, accessctl.DirectionOut, ev.Pass.Direction)
	_, err = d.QueryEvent(ctx, "no-such-event")
	assert.ErrorIs(t, err, accessctl.ErrNotFound)

	require.NoError(t, d.DeleteUser(ctx, "12384865", "李四四"))
	_, ok = term.User("12384865")
	assert.False(t, ok)
	err = d.DeleteUser(ctx, "12384865", "")
	var rej *accessctl.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, "500", rej.Code)
	assert.Equal(t, "deleteUser", rej.Op)
	users, err = d.SelectUser(ctx, wsterm.UserQuery{UserID: "12384865"})
	require.NoError(t, err)
	assert.Empty(t, users)

	rep, err := d.Do(ctx, "reboot", nil)
	require.NoError(t, err, "unknown commands return the reply for the caller to read")
	assert.Equal(t, "unknown command", rep.Text())

	st := e.srv.Stats()
	assert.Equal(t, st.CommandsSent, st.Replies)
	assert.Zero(t, st.CommandTimeouts)
}

func TestOpenDoorUnsupportedAndClose(t *testing.T) {
	e := newEnv(t)
	e.terminal(t, "T1")
	d := e.device(t, "T1")
	assert.ErrorIs(t, d.OpenDoor(ctxT(t), accessctl.OpenRequest{}), accessctl.ErrUnsupported)
	require.NoError(t, d.Close())
	assert.ErrorIs(t, d.OpenDoor(ctxT(t), accessctl.OpenRequest{}), accessctl.ErrClosed)
	assert.ErrorIs(t, d.PutGrant(ctxT(t), accessctl.Grant{Person: accessctl.PersonRef{ID: "x"}}), accessctl.ErrClosed)
}

func TestImageValidation(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	d := e.device(t, "T1")
	err := d.AddUser(ctxT(t), wsterm.User{UserID: "1", Img: "base64....."})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	err = d.AddUser(ctxT(t), wsterm.User{UserID: "1", Img: "aGVsbG8="}) // "hello": not an image
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	err = d.PutGrant(ctxT(t), accessctl.Grant{Person: accessctl.PersonRef{ID: "1"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: []byte("hello")}}}})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	assert.Zero(t, term.Stats().Commands, "nothing reached the terminal")
	for _, ok := range []string{jpegB64, "data:image/jpeg;base64," + jpegB64, "/9j/4AAQ\nSkZJRgA=", "iVBORw0KGgo="} {
		require.NoError(t, d.AddUser(ctxT(t), wsterm.User{UserID: "1", Img: strings.ReplaceAll(ok, "\\n", "\n")}), ok)
	}
}

func TestPassEventAckedOnlyAfterSinkAccepted(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	release := make(chan struct{})
	e.sink.mu.Lock()
	e.sink.block = release
	e.sink.mu.Unlock()
	done := make(chan error, 1)
	go func() { _, err := term.Pass(context.Background(), "77986", "0"); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("terminal got its ack before the sink accepted the event (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)
	pass := e.sink.of(accessctl.KindPass)
	require.Len(t, pass, 1)
	p := pass[0]
	assert.Equal(t, "T1", p.Device.ID)
	assert.Equal(t, "77986", p.Pass.Person.ID)
	assert.Equal(t, accessctl.DirectionIn, p.Pass.Direction, "door 0 is going in")
	assert.Equal(t, accessctl.MethodFace, p.Pass.Method)
	assert.True(t, p.Pass.Result.Granted)
	require.NotNil(t, p.Pass.Snapshot)
	assert.Equal(t, "image/jpeg", p.Pass.Snapshot.MIME)
	assert.Equal(t, accessctl.TimeReceipt, p.TimeSource)
	assert.True(t, strings.HasPrefix(p.ID, "T1:"))
	assert.NotEmpty(t, p.Raw)
}

func TestSinkFailureLeavesEventUnackedAndTheTerminalResends(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	e.sink.mu.Lock()
	e.sink.fail = 2
	e.sink.mu.Unlock()
	ctx := ctxT(t)
	id, err := term.Pass(ctx, "77986", "0") // survives two refusals via reconnect + resend
	require.NoError(t, err)
	pass := e.sink.of(accessctl.KindPass)
	require.Len(t, pass, 1, "delivered once")
	assert.Equal(t, "T1:"+id, pass[0].ID)
	st := e.srv.Stats()
	assert.Equal(t, uint64(2), st.SinkErrors)
	assert.GreaterOrEqual(t, st.Registrations, uint64(3), "closed twice, registered again twice")
	assert.Equal(t, 1, term.Stats().EventsAcked)
}

func TestDuplicateEventIsAckedButDeliveredOnce(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	ev := map[string]any{"eventid": "20240115113644", "type": "1", "data": map[string]string{"userId": "77986", "img": "base64...", "door": "0"}}
	require.NoError(t, term.SendReport("207", ev))
	require.NoError(t, term.SendReport("207", ev))
	require.NoError(t, term.SendReport("206", map[string]string{"time": "2023-12-25 15:47:30"}))
	e.sink.wait(t, accessctl.KindHeartbeat) // FIFO: everything before it was handled
	assert.Len(t, e.sink.of(accessctl.KindPass), 1)
	assert.Equal(t, uint64(1), e.srv.Stats().DuplicateEvents)
	p := e.sink.of(accessctl.KindPass)[0]
	assert.Nil(t, p.Pass.Snapshot, "the placeholder is not an image")
}

func TestEnrolledEvent(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	_, err := term.Enroll(ctxT(t), wsterm.User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "1", Img: jpegB64})
	require.NoError(t, err)
	ev := e.sink.wait(t, accessctl.KindEnrolled)
	require.NotNil(t, ev.Enrolled)
	assert.Equal(t, "12384865", ev.Enrolled.Person.ID)
	assert.Equal(t, "李四", ev.Enrolled.Name)
	assert.True(t, ev.Enrolled.Admin)
	face, ok := ev.Enrolled.Credential(accessctl.CredFace)
	require.True(t, ok)
	assert.Equal(t, "image/jpeg", face.Face.MIME)
	assert.NotContains(t, ev.Enrolled.String(), "1234", "the password is not printed")
}

func TestHeartbeatsAndOfflineAfterSilence(t *testing.T) {
	changes := make(chan accessctl.Status, 4)
	e := newEnv(t, wsterm.WithOfflineAfter(time.Second), wsterm.WithOnStatus(func(st accessctl.Status) { changes <- st }))
	term := e.terminal(t, "T1", wstermtest.WithHeartbeat(30*time.Millisecond))
	hb := e.sink.wait(t, accessctl.KindHeartbeat)
	require.NotNil(t, hb.Status)
	assert.NotEmpty(t, hb.Status.Info.Extra["clock"])
	skew, err := time.ParseDuration(hb.Status.Info.Extra["clockSkew"])
	require.NoError(t, err)
	assert.Less(t, skew.Abs(), 5*time.Second, "the simulator's clock is ours")
	time.Sleep(1300 * time.Millisecond)
	e.waitOnline(t, "T1", true) // heartbeats keep it online past the silence limit
	assert.Empty(t, e.sink.of(accessctl.KindOffline))
	term.Close()
	off := e.sink.wait(t, accessctl.KindOffline)
	assert.False(t, off.Status.Online)
	assert.True(t, (<-changes).Online, "status callback: online")
	assert.False(t, (<-changes).Online, "status callback: offline")
}

func TestSilentTerminalGoesOffline(t *testing.T) {
	e := newEnv(t, wsterm.WithOfflineAfter(200*time.Millisecond))
	term := e.terminal(t, "T1", wstermtest.WithHeartbeat(time.Hour))
	term.Misbehave("", wstermtest.Behavior{Silent: true})
	d := e.device(t, "T1")
	start := time.Now()
	err := d.AddUser(ctxT(t), wsterm.User{UserID: "1", Img: jpegB64})
	assert.ErrorIs(t, err, accessctl.ErrOffline, "a silent socket is dropped and its command fails offline")
	assert.Less(t, time.Since(start), 3*time.Second)
	off := e.sink.wait(t, accessctl.KindOffline)
	assert.Contains(t, off.Status.Info.Extra["reason"], "timeout")
}

func TestCommandTimeoutAndLateReply(t *testing.T) {
	late := make(chan wsterm.Frame, 1)
	e := newEnv(t, wsterm.WithTimeout(wsterm.CmdAddUser, 100*time.Millisecond),
		wsterm.WithLateReply(func(sn string, f wsterm.Frame) { late <- f }))
	term := e.terminal(t, "T1")
	term.Misbehave(wsterm.CmdAddUser, wstermtest.Behavior{Delay: 300 * time.Millisecond})
	err := e.device(t, "T1").AddUser(ctxT(t), wsterm.User{UserID: "1", Img: jpegB64})
	assert.ErrorIs(t, err, accessctl.ErrTimeout)
	select {
	case f := <-late:
		assert.Equal(t, wsterm.FlexString("200"), f.Code)
	case <-time.After(5 * time.Second):
		t.Fatal("late reply not reported")
	}
	st := e.srv.Stats()
	assert.Equal(t, uint64(1), st.CommandTimeouts)
	assert.Equal(t, uint64(1), st.LateReplies)
}

func TestNeverAnsweringTerminalTimesOut(t *testing.T) {
	e := newEnv(t, wsterm.WithTimeouts(150*time.Millisecond))
	term := e.terminal(t, "T1")
	term.Misbehave("", wstermtest.Behavior{Silent: true})
	d := e.device(t, "T1")
	_, err := d.SelectUser(ctxT(t), wsterm.UserQuery{UserID: "1"})
	assert.ErrorIs(t, err, accessctl.ErrTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = d.SelectUser(ctx, wsterm.UserQuery{UserID: "1"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	e.waitOnline(t, "T1", true) // a slow terminal is not offline
}

func TestOneCommandInFlight(t *testing.T) {
	e := newEnv(t, wsterm.WithTimeouts(time.Second))
	term := e.terminal(t, "T1")
	term.Misbehave("", wstermtest.Behavior{Silent: true})
	d := e.device(t, "T1")
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = d.DeleteUser(context.Background(), string(rune('a'+i)), "")
		}()
	}
	require.Eventually(t, func() bool { return term.Stats().Commands >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 1, term.Stats().Commands, "the others wait for the first reply or timeout")
	wg.Wait()
	assert.Equal(t, 3, term.Stats().Commands)
}

func TestOrphanReplyAttributedToTheOnlyCommand(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	term.Misbehave(wsterm.CmdAddUser, wstermtest.Behavior{NoCommandID: true})
	require.NoError(t, e.device(t, "T1").AddUser(ctxT(t), wsterm.User{UserID: "1", Img: jpegB64}))
	assert.Equal(t, uint64(1), e.srv.Stats().OrphansAttributed)
}

func TestRejectedAddFallsBackToEdit(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1", wstermtest.WithUsers(wsterm.User{UserID: "p1", Name: "old", Img: jpegB64}))
	term.Misbehave(wsterm.CmdAddUser, wstermtest.Behavior{Code: "500"}) // a terminal without upsert
	d := e.device(t, "T1")
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p1"}, Name: "new",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: jpeg}}}}
	require.NoError(t, d.PutGrant(ctxT(t), g))
	u, _ := term.User("p1")
	assert.Equal(t, "new", u.Name)

	term.Misbehave(wsterm.CmdEditUser, wstermtest.Behavior{Code: "500"})
	err := d.PutGrant(ctxT(t), g)
	assert.ErrorIs(t, err, accessctl.ErrRejected)

	term.Misbehave(wsterm.CmdDeleteUser, wstermtest.Behavior{Code: "500"})
	assert.ErrorIs(t, d.RemoveGrant(ctxT(t), accessctl.PersonRef{ID: "p1"}), accessctl.ErrRejected, "still there: the refusal stands")
	assert.NoError(t, d.RemoveGrant(ctxT(t), accessctl.PersonRef{ID: "absent"}), "absent after a refusal: done")
}

func TestGrantMapping(t *testing.T) {
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p1"}, Name: "n", Admin: true, Account: "acct",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: jpeg}}, {Kind: accessctl.CredPassword, Value: "9"}}}
	u, err := wsterm.UserOf(g)
	require.NoError(t, err)
	assert.Equal(t, wsterm.User{User: "acct", UserID: "p1", Pwd: "9", Name: "n", Role: "1", Img: "/9j/4AAQSkZJRgA="}, u)
	_, err = wsterm.UserOf(accessctl.Grant{Person: accessctl.PersonRef{ID: "p1"}})
	assert.ErrorIs(t, err, accessctl.ErrUnsupported, "no face")
	g.Policy = accessctl.PolicyDeny
	_, err = wsterm.UserOf(g)
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
	_, err = wsterm.UserOf(accessctl.Grant{})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestAdmissionRejects(t *testing.T) {
	e := newEnv(t, wsterm.WithAdmission(func(ctx context.Context, r wsterm.Registration) error {
		if r.SN == "evil" || r.MAC == "BAD" {
			return errors.New("not on the allow-list")
		}
		return nil
	}))
	term := wstermtest.NewTerminal(e.url, wstermtest.WithSN("evil"), wstermtest.WithTransport(fastBackoff))
	defer term.Close()
	require.Eventually(t, func() bool { return term.Rejected() == "not on the allow-list" }, 5*time.Second, 5*time.Millisecond)
	assert.False(t, term.Registered())
	assert.GreaterOrEqual(t, e.srv.Stats().Rejected, uint64(1))
	st, _ := e.device(t, "evil").Status(ctxT(t))
	assert.False(t, st.Online)
	e.terminal(t, "good") // others still get in
}

func TestReconnectReplacesStaleSession(t *testing.T) {
	e := newEnv(t, wsterm.WithTakeoverAfter(300*time.Millisecond))
	first := e.terminal(t, "T1")
	first.Misbehave("", wstermtest.Behavior{Silent: true})
	d := e.device(t, "T1")
	errc := make(chan error, 1)
	go func() { errc <- d.DeleteUser(context.Background(), "1", "") }()
	require.Eventually(t, func() bool { return first.Stats().Commands == 1 }, 5*time.Second, 5*time.Millisecond)

	// Silent past the takeover bound: the reconnect of A.5 replaces it.
	second := wstermtest.NewTerminal(e.url, wstermtest.WithSN("T1"), wstermtest.WithTransport(fastBackoff))
	defer second.Close()
	require.NoError(t, second.WaitRegistered(ctxT(t)))
	err := <-errc
	assert.ErrorIs(t, err, accessctl.ErrOffline)
	assert.ErrorIs(t, err, transport.ErrReplaced)
	first.Disconnect() // stop it from fighting back
	require.NoError(t, d.AddUser(ctxT(t), wsterm.User{UserID: "9", Img: jpegB64}))
	_, ok := second.User("9")
	assert.True(t, ok, "commands go to the newest connection")
	assert.Equal(t, uint64(1), e.srv.Stats().Replaced)
	e.waitOnline(t, "T1", true)
	assert.Empty(t, e.sink.of(accessctl.KindOffline), "a replaced session does not make the device offline")
}

func TestDuplicateRegistrationOnTheSameConnection(t *testing.T) {
	e := newEnv(t)
	term := e.terminal(t, "T1")
	require.NoError(t, term.SendReport("205", map[string]string{"ip": "10.0.0.9", "mac": "m", "sn": "T1", "type": "1"}))
	require.Eventually(t, func() bool {
		st, _ := e.device(t, "T1").Status(context.Background())
		return st.Info.IP == "10.0.0.9"
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(2), e.srv.Stats().Registrations)
	assert.Len(t, e.sink.of(accessctl.KindOnline), 1, "no second online event")
	st, _ := e.device(t, "T1").Status(ctxT(t))
	assert.Equal(t, accessctl.RoleExit, st.Info.Role)
}

// rawTerminal is a bare gorilla client for frames the simulator would not send.
func rawTerminal(t *testing.T, e *env) *websocket.Conn {
	ws, _, err := websocket.DefaultDialer.Dial(e.url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	return ws
}

func send(t *testing.T, ws *websocket.Conn, s string) {
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(s)))
}

func recv(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, m, err := ws.ReadMessage()
	require.NoError(t, err)
	return string(m)
}

const ack200 = `{"command":"response","content":{"code":"200","data":""}}`

func TestBadInputNeverPanicsOrHangs(t *testing.T) {
	e := newEnv(t)
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"205","data":{"ip":"1","mac":"2","sn":"RAW","type":"0"}}`)
	assert.Equal(t, `{"command":"response","content":{"code":"200","interval":"20","data":""}}`, recv(t, ws))

	send(t, ws, `{"code":"200","data":"","commandId":"424242"}`) // unknown commandId
	send(t, ws, `{"code":"203","content":[]}`)                   // orphan, nothing in flight
	send(t, ws, `{"command":"hello"}`)                           // neither code nor commandId
	send(t, ws, `not json`)                                      // malformed
	send(t, ws, `{"code":"299","data":{"x":1}}`)                 // unknown report: acked, delivered raw
	assert.Equal(t, ack200, recv(t, ws))
	send(t, ws, `{"code":"206","data":{"time":"2023-12-25 15:47:30"}}`)
	assert.Equal(t, ack200, recv(t, ws))

	st := e.srv.Stats()
	assert.Equal(t, uint64(1), st.UnknownReplies)
	assert.Equal(t, uint64(1), st.OrphansDropped)
	assert.Equal(t, uint64(1), st.NoCodeDropped)
	assert.Equal(t, uint64(1), st.BadFrames)
	assert.Equal(t, uint64(1), st.UnknownReports)
	rep := e.sink.wait(t, wsterm.KindReport)
	assert.JSONEq(t, `{"code":"299","data":{"x":1}}`, string(rep.Raw))
	e.waitOnline(t, "RAW", true)
}

func TestFiveBadFramesInARowClose(t *testing.T) {
	e := newEnv(t)
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"205","data":{"sn":"RAW"}}`)
	recv(t, ws)
	for range 5 {
		send(t, ws, `{{{`)
	}
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _, err := ws.ReadMessage()
	assert.Error(t, err, "closed")
	e.waitOnline(t, "RAW", false)
	assert.Equal(t, uint64(5), e.srv.Stats().BadFrames)
}

func TestOversizedFrameClosesTheConnection(t *testing.T) {
	e := newEnv(t, wsterm.WithTransport(transport.WithReadLimit(4096)))
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"205","data":{"sn":"BIG"}}`)
	recv(t, ws)
	big := `{"code":"207","data":{"eventid":"1","type":"1","data":{"img":"` + strings.Repeat("A", 8192) + `"}}}`
	_ = ws.WriteMessage(websocket.TextMessage, []byte(big)) // may be cut off by the close
	_, _, err := ws.ReadMessage()
	require.Error(t, err)
	if ce := (*websocket.CloseError)(nil); errors.As(err, &ce) {
		assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)
	}
	e.waitOnline(t, "BIG", false)
	assert.Equal(t, uint64(1), e.srv.Stats().Transport.OversizedFrames)
	assert.Empty(t, e.sink.of(accessctl.KindPass))
}

func TestReportsBeforeRegistrationAreBuffered(t *testing.T) {
	e := newEnv(t)
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"207","data":{"eventid":"e1","type":"1","data":{"userId":"77986","door":"1"}}}`)
	assert.Equal(t, ack200, recv(t, ws))
	send(t, ws, `{"code":"206","data":{"time":"2023-12-25 15:47:30"}}`)
	assert.Equal(t, ack200, recv(t, ws))
	assert.Empty(t, e.sink.of(accessctl.KindPass))
	send(t, ws, `{"code":"205","data":{"sn":"EARLY"}}`)
	recv(t, ws)
	p := e.sink.wait(t, accessctl.KindPass)
	assert.Equal(t, "EARLY", p.Device.ID)
	assert.Equal(t, "EARLY:e1", p.ID)
	assert.Equal(t, uint64(1), e.srv.Stats().EarlyEvents)
}

func TestNoRegistrationInTimeCloses(t *testing.T) {
	e := newEnv(t, wsterm.WithRegisterDeadline(150*time.Millisecond))
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"207","data":{"eventid":"e1","type":"1","data":{"userId":"u"}}}`)
	recv(t, ws)
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _, err := ws.ReadMessage()
	assert.Error(t, err)
	require.Eventually(t, func() bool { return e.srv.Stats().UnregDropped == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, e.sink.of(accessctl.KindPass), "nobody vouches for a socket that never registered")
}

func TestRegisterWithoutSNIsRejected(t *testing.T) {
	e := newEnv(t)
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":"205","data":{"ip":"1"}}`)
	var ack struct {
		Content struct{ Code, Data string } `json:"content"`
	}
	require.NoError(t, json.Unmarshal([]byte(recv(t, ws)), &ack))
	assert.Equal(t, "500", ack.Content.Code)
	assert.Equal(t, "missing sn", ack.Content.Data)
}

func TestNumericScalarsAccepted(t *testing.T) {
	e := newEnv(t)
	ws := rawTerminal(t, e)
	send(t, ws, `{"code":205,"data":{"sn":486468465489,"type":1}}`)
	recv(t, ws)
	e.waitOnline(t, "486468465489", true)
	st, _ := e.device(t, "486468465489").Status(ctxT(t))
	assert.Equal(t, accessctl.RoleExit, st.Info.Role)
}

func TestServerCloseLeavesNothingBehind(t *testing.T) {
	sink := newRecorder()
	srv := wsterm.NewServer(wsterm.WithSink(sink))
	e := &env{srv: srv, sink: sink}
	e.ts = newHTTPServer(t, srv)
	e.url = "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/"
	var terms []*wstermtest.Terminal
	for _, sn := range []string{"A", "B", "C"} {
		terms = append(terms, wstermtest.NewTerminal(e.url, wstermtest.WithSN(sn), wstermtest.WithTransport(fastBackoff)))
	}
	for _, term := range terms {
		require.NoError(t, term.WaitRegistered(ctxT(t)))
	}
	for _, term := range terms {
		term.Disconnect()
	}
	require.NoError(t, srv.Close())
	e.ts.Close()
	for _, term := range terms {
		require.NoError(t, term.Close())
	}
	assert.Len(t, sink.of(accessctl.KindOffline), 3)
	goleak.VerifyNone(t)
}
