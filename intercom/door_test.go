package intercom

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doorRig is a door station with a counting opener and an event log.
type doorRig struct {
	*DoorStation
	opened atomic.Int32
	mu     sync.Mutex
	events []UnlockEvent
	evCh   chan UnlockEvent
}

func newDoorRig(t *testing.T, opts ...DoorOption) *doorRig {
	t.Helper()
	rig := &doorRig{evCh: make(chan UnlockEvent, 16)}
	base := []DoorOption{WithUser("door1"),
		WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error { rig.opened.Add(1); return nil })),
		WithOnUnlock(func(_ context.Context, e UnlockEvent) error {
			rig.mu.Lock()
			rig.events = append(rig.events, e)
			rig.mu.Unlock()
			rig.evCh <- e
			return nil
		})}
	d, err := NewDoorStation("127.0.0.1:0", append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	rig.DoorStation = d
	return rig
}

func (r *doorRig) event(t *testing.T) UnlockEvent {
	t.Helper()
	select {
	case e := <-r.evCh:
		return e
	case <-time.After(3 * time.Second):
		t.Fatal("no unlock event")
		return UnlockEvent{}
	}
}

func newResident(t *testing.T, opts ...ResidentOption) *Resident {
	t.Helper()
	r, err := NewResident("127.0.0.1:0", append([]ResidentOption{WithUser("room1202")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestUnlockOverUDPAndTCP(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			door := newDoorRig(t)
			res := newResident(t)
			ctx := testCtx(t)
			uri := door.URI()
			if transport == "tcp" {
				uri += ";transport=tcp"
			}
			call, err := res.CallDoor(ctx, uri)
			require.NoError(t, err)
			assert.Equal(t, CallConnected, call.State())
			out, err := call.Unlock(ctx)
			require.NoError(t, err)
			assert.True(t, out.OK())
			assert.Contains(t, []ResultSource{ResultIn2xx, ResultInINFO}, out.Source)
			assert.Less(t, out.Elapsed, time.Second)
			ev := door.event(t)
			assert.Equal(t, ChannelInfoJSON, ev.Channel)
			assert.Equal(t, "room1202", ev.Peer)
			assert.Equal(t, "room1202", ev.Claimed)
			assert.Equal(t, out.ReqSN, ev.ReqSN)
			assert.Equal(t, call.CallID(), ev.CallID)
			assert.True(t, ev.Granted())
			assert.False(t, ev.Early)
			require.NoError(t, call.Hangup(ctx))
			assert.EqualValues(t, 1, door.opened.Load(), "two INFO copies, one unlock")
			assert.EqualValues(t, 1, door.Stats().UnlocksGranted)
			assert.Eventually(t, func() bool { return len(door.Calls()) == 0 }, 2*time.Second, 10*time.Millisecond, "BYE ends the door's call")
		})
	}
}

// foreignInfo sends an INFO with the call's Call-ID but a From tag that is
// not the dialog's, straight from the resident's sipgo client.
func sendRaw(t *testing.T, ep *Endpoint, target string, method sip.RequestMethod, callID, fromTag, toTag, ct, body string) *sip.Response {
	t.Helper()
	var uri sip.Uri
	require.NoError(t, sip.ParseUri(target, &uri))
	req := sip.NewRequest(method, uri)
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "mallory", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", fromTag)
	to := sip.ToHeader{Address: uri, Params: sip.NewParams()}
	if toTag != "" {
		to.Params.Add("tag", toTag)
	}
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 50, MethodName: method})
	if ct != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
	}
	req.SetBody([]byte(body))
	ep.fromUDPSocket(req)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := ep.cli.Do(ctx, req)
	require.NoError(t, err)
	return res
}

func TestForeignDialogInfoIs481(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	body := `{"req":"unlock","reqsn":5,"sip":"mallory"}`
	doorTag := door.Calls()[0].localTag
	// Same Call-ID and the door's own tag, but another remote tag: another dialog.
	r := sendRaw(t, res.Endpoint, door.URI(), sip.INFO, call.CallID(), "forged", doorTag, "application/json", body)
	assert.Equal(t, 481, r.StatusCode)
	r = sendRaw(t, res.Endpoint, door.URI(), sip.INFO, "no-such-call", "x", "y", "application/json", body)
	assert.Equal(t, 481, r.StatusCode)
	r = sendRaw(t, res.Endpoint, door.URI(), sip.MESSAGE, "no-such-call", "x", "", "application/json", body)
	assert.Equal(t, 481, r.StatusCode, "out-of-dialog MESSAGE")
	r = sendRaw(t, res.Endpoint, door.URI(), sip.INFO, "no-such-call", "x", "", "application/dtmf-relay", "Signal=*")
	assert.Equal(t, 481, r.StatusCode, "out-of-dialog DTMF")
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 0, door.opened.Load())
	assert.EqualValues(t, 4, door.Stats().NoDialog)
	// The genuine dialog still works.
	_, err = call.Unlock(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, door.opened.Load())
}

func TestDuplicateReqSNWithinWindowOpensOnce(t *testing.T) {
	door := newDoorRig(t, WithDedupWindow(400*time.Millisecond), WithResponseViaInfo(false))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	body := UnlockCommand{Req: "unlock", ReqSN: 42, SIP: "room1202"}.Marshal()
	var replies []UnlockReply
	for i := 0; i < 3; i++ {
		r, err := call.Request(ctx, sip.INFO, "application/json", body)
		require.NoError(t, err)
		require.Equal(t, 200, r.StatusCode)
		rep, err := ParseUnlockReply(r.Body())
		require.NoError(t, err, "duplicates carry the cached result")
		replies = append(replies, rep)
	}
	for _, rep := range replies {
		assert.Equal(t, UnlockReply{Res: "unlock", ReqSN: 42, Status: 200}, rep)
	}
	assert.EqualValues(t, 1, door.opened.Load())
	assert.EqualValues(t, 2, door.Stats().Duplicates)
	// After the window the same reqsn is a new request.
	time.Sleep(500 * time.Millisecond)
	r, err := call.Request(ctx, sip.INFO, "application/json", body)
	require.NoError(t, err)
	require.Equal(t, 200, r.StatusCode)
	assert.EqualValues(t, 2, door.opened.Load())
}

func TestMalformedAndUnknownBodies(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		ct, body string
		status   int
		res      string
	}{
		"broken json":   {"application/json", `{"req":"unlock","reqsn":`, 400, "unlock"},
		"missing reqsn": {"application/json", `{"req":"unlock"}`, 400, "unlock"},
		"bad form":      {"application/x-www-form-urlencoded", "req=unlock&reqsn=x", 400, "unlock"},
		"unknown req":   {"application/json", `{"req":"reboot","reqsn":9}`, 404, "reboot"},
		"no type":       {"", `{"req":"unlock","reqsn":`, 400, "unlock"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := call.Request(ctx, sip.INFO, tc.ct, []byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, 200, r.StatusCode, "a bad body never tears the call down")
			rep, err := ParseUnlockReply(r.Body())
			require.NoError(t, err)
			assert.Equal(t, tc.status, rep.Status)
			assert.Equal(t, tc.res, rep.Res)
		})
	}
	r, err := call.Request(ctx, sip.INFO, "application/xml", []byte("<x/>"))
	require.NoError(t, err)
	assert.Equal(t, 415, r.StatusCode)
	require.NotNil(t, r.GetHeader("Accept"))
	assert.Contains(t, r.GetHeader("Accept").Value(), "application/dtmf-relay")
	r, err = call.Request(ctx, sip.INFO, "application/dtmf-relay", []byte("Duration=160"))
	require.NoError(t, err)
	assert.Equal(t, 400, r.StatusCode)
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 0, door.opened.Load())
	assert.EqualValues(t, 5, door.Stats().Malformed)
	assert.Equal(t, CallConnected, call.State())
}

func TestDTMFInfoUnlock(t *testing.T) {
	door := newDoorRig(t, WithUnlockDigits("*"))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	r, err := call.Request(ctx, sip.INFO, "application/dtmf-relay", []byte("Signal= *\r\nDuration=160\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 200, r.StatusCode)
	assert.Empty(t, r.Body())
	ev := door.event(t)
	assert.Equal(t, ChannelDTMFRelay, ev.Channel)
	assert.Equal(t, "room1202", ev.Peer)
	assert.Zero(t, ev.ReqSN)
	r, err = call.Request(ctx, sip.INFO, "application/dtmf", []byte("*"))
	require.NoError(t, err)
	assert.Equal(t, 200, r.StatusCode)
	assert.Equal(t, ChannelDTMFInfo, door.event(t).Channel)
	// Another digit does not open.
	_, err = call.Request(ctx, sip.INFO, "application/dtmf", []byte("5"))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 2, door.opened.Load())
}

func TestRFC2833Unlock(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	a := call.RemoteMedia().Audio
	require.NotNil(t, a)
	pt := call.TelephoneEventPT()
	require.Equal(t, 101, pt, "door answered our telephone-event PT")
	dst := &net.UDPAddr{IP: net.ParseIP(a.Addr), Port: a.Port}
	conn, err := net.DialUDP("udp", nil, dst)
	require.NoError(t, err)
	defer conn.Close()
	send := func(payload []byte, ts uint32, seq uint16, marker bool) {
		_, err := conn.Write(rtpPacket(uint8(pt), marker, seq, ts, 0x1234, payload))
		require.NoError(t, err)
	}
	// Audio packets and a '5' are ignored; '*' start + end x3 opens once.
	send([]byte{0xff, 0xff, 0xff, 0xff}[:2], 0, 1, false)
	send([]byte{5, 0x8A, 0x03, 0x20}, 80, 2, true)
	send([]byte{0x0A, 0x0A, 0x00, 0xA0}, 160, 3, true)
	for i := 0; i < 3; i++ {
		send([]byte{0x0A, 0x8A, 0x03, 0x20}, 160, uint16(4+i), false)
	}
	ev := door.event(t)
	assert.Equal(t, ChannelRFC2833, ev.Channel)
	assert.Equal(t, "room1202", ev.Peer)
	time.Sleep(150 * time.Millisecond)
	assert.EqualValues(t, 1, door.opened.Load(), "the end packet repeated 3x opens once")
	send([]byte{0x0A, 0x8A, 0x03, 0x20}, 1760, 9, false)
	door.event(t)
	assert.EqualValues(t, 2, door.opened.Load(), "a new event (new timestamp) opens again")
}

func TestPolicyAndCaps(t *testing.T) {
	var mode atomic.Int32
	door := newDoorRig(t, WithMaxUnlocksPerCall(2), WithPolicy(func(ctx context.Context, r UnlockRequest) error {
		switch mode.Load() {
		case 1:
			return ErrUnlockDenied
		case 2:
			return ErrUnlockDisabled
		}
		return nil
	}))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	mode.Store(1)
	out, err := call.Unlock(ctx)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, ErrUnlockRejected)
	assert.Equal(t, StatusForbidden, se.Status)
	assert.Equal(t, StatusForbidden, out.Status)
	assert.False(t, door.event(t).Granted())
	mode.Store(2)
	_, err = call.Unlock(ctx)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, StatusDisabled, se.Status)
	mode.Store(0)
	_, err = call.Unlock(ctx)
	assert.ErrorIs(t, err, ErrUnlockRejected, "third attempt hits the per-call cap of 2")
	assert.EqualValues(t, 0, door.opened.Load())
	assert.EqualValues(t, 3, door.Stats().UnlocksDenied)
}

func TestSlowOpenerAnswersByInfo(t *testing.T) {
	door := newDoorRig(t, WithOpenerBound(30*time.Millisecond), WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		time.Sleep(250 * time.Millisecond)
		return nil
	})))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	out, err := call.Unlock(ctx)
	require.NoError(t, err)
	assert.Equal(t, ResultInINFO, out.Source, "the 200 OK had no body; the result came by INFO")
	assert.Equal(t, [2]int{200, 200}, out.SIPStatus)
	assert.GreaterOrEqual(t, out.Elapsed, 200*time.Millisecond)
}

func TestOpenerFailureIs500(t *testing.T) {
	door := newDoorRig(t, WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		return errors.New("relay offline")
	})))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	out, err := call.Unlock(ctx)
	assert.ErrorIs(t, err, ErrUnlockRejected)
	assert.Equal(t, StatusDriverError, out.Status)
	ev := door.event(t)
	assert.EqualError(t, ev.Err, "relay offline")
}

func TestResidentTimesOutAtBudget(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	door := newDoorRig(t, WithOpenerBound(20*time.Millisecond), WithOpener(OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		select {
		case <-release:
		case <-time.After(2 * time.Second):
		}
		return nil
	})))
	res := newResident(t, WithUnlockBudget(300*time.Millisecond))
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	start := time.Now()
	out, err := call.Unlock(ctx)
	assert.ErrorIs(t, err, ErrUnlockTimeout)
	assert.Zero(t, out.Status)
	assert.Less(t, time.Since(start), time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

func TestBothInfos481FailAtOnce(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t, WithUnlockBudget(3*time.Second))
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	require.Len(t, door.Calls(), 1)
	door.Calls()[0].end(CallEvent{}, nil) // the door forgets the dialog (e.g. it restarted)
	start := time.Now()
	out, err := call.Unlock(ctx)
	assert.ErrorIs(t, err, ErrNoDialog)
	assert.Equal(t, [2]int{481, 481}, out.SIPStatus)
	assert.Less(t, time.Since(start), time.Second, "no waiting for the 3 s budget")
}

func TestBusyDoorAnswers486(t *testing.T) {
	door := newDoorRig(t, WithMaxCalls(1))
	ctx := testCtx(t)
	_, err := newResident(t).CallDoor(ctx, door.URI())
	require.NoError(t, err)
	_, err = newResident(t, WithUser("room1203")).CallDoor(ctx, door.URI())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, ErrCallFailed)
	assert.Equal(t, 486, se.Status)
	assert.EqualValues(t, 1, door.Stats().CallsRejected)
}

func TestDoorCallsResidentWhoUnlocks(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	var states []CallState
	var mu sync.Mutex
	_ = states
	dcall, err := door.CallRoom(ctx, res.URI())
	require.NoError(t, err)
	var rcall *Call
	select {
	case rcall = <-res.Incoming():
	case <-time.After(2 * time.Second):
		t.Fatal("resident got no call")
	}
	mu.Lock()
	mu.Unlock()
	out, err := rcall.Unlock(ctx)
	require.NoError(t, err, "resident unlocks inside the door's own call (resident is UAS)")
	assert.True(t, out.OK())
	ev := door.event(t)
	assert.Equal(t, "room1202", ev.Peer)
	assert.Equal(t, dcall.CallID(), ev.CallID)
	require.NoError(t, dcall.Hangup(ctx))
	select {
	case <-rcall.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("door's BYE did not end the resident's call")
	}
}

func TestMessageJSONUnlock(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	r, err := call.Request(ctx, sip.MESSAGE, "text/plain", []byte("req=unlock&reqsn=77&sip=room1202"))
	require.NoError(t, err)
	rep, err := ParseUnlockReply(r.Body())
	require.NoError(t, err)
	assert.Equal(t, 77, rep.ReqSN)
	assert.True(t, rep.OK())
	assert.Equal(t, ChannelMessageJSON, door.event(t).Channel)
}

func TestInviteTooLargeForUDP(t *testing.T) {
	res := newResident(t, WithUser(string(make([]byte, 0))+longUser()))
	_, err := res.Dial(testCtx(t), "sip:door@127.0.0.1:9")
	assert.ErrorIs(t, err, ErrTooLarge)
}

func longUser() string {
	b := make([]byte, 0, 400)
	for len(b) < 400 {
		b = strconv.AppendInt(b, int64(len(b)), 36)
	}
	return string(b)
}

var _ = binary.BigEndian

func TestRingTimeoutWithoutAnyResponse(t *testing.T) {
	// A UDP port that swallows everything: no 100, no 180.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	door := newDoorRig(t, WithRingTimeout(300*time.Millisecond))
	start := time.Now()
	_, err = door.CallRoom(testCtx(t), "sip:1202@"+sink.LocalAddr().String())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 408, se.Status)
	assert.Less(t, time.Since(start), 2*time.Second, "no wait for Timer B")
	assert.Empty(t, door.Calls())
}
