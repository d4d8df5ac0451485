package stdproto_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

func connectBody(t *testing.T, sn, ip string, ts int64, mutate func(m map[string]any)) []byte {
	sign, err := stdproto.Sign("md5", ts, "00-16-EA-AE-3D-40", sn, ip)
	require.NoError(t, err)
	m := map[string]any{"sn": sn, "time": ts, "ip": ip, "mac": "00-16-EA-AE-3D-40", "keepalive": 30, "signMethod": "md5", "sign": sign}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func code(t *testing.T, got map[string]any) int {
	t.Helper()
	c, ok := got["code"].(float64)
	require.True(t, ok, "no numeric code in %v", got)
	return int(c)
}

// TestAuthRefusals: every refusal of the spec, with its code.
func TestAuthRefusals(t *testing.T) {
	edge, _, _ := exampleEdge(t)
	skewed, _, _ := exampleEdge(t, stdproto.WithClockSkew(5*time.Minute))
	js := "application/json"
	now := time.Now().Unix()

	for _, tc := range []struct {
		name string
		h    http.Handler
		body []byte
		code int
		msg  string
	}{
		{"bad sign", edge, connectBody(t, "123456789", "192.168.1.128", now, func(m map[string]any) { m["sign"] = "00000000000000000000000000000000" }), 6, "verify sign error"},
		{"sign over other values", edge, connectBody(t, "123456789", "192.168.1.128", now, func(m map[string]any) { m["time"] = now + 1 }), 6, "verify sign error"},
		{"unknown sign method", edge, connectBody(t, "123456789", "192.168.1.128", now, func(m map[string]any) { m["signMethod"] = "crc32" }), 5, ""},
		{"unknown sn", edge, connectBody(t, "987654321", "192.168.1.128", now, nil), 7, "device is illegal"},
		{"unknown ip", edge, connectBody(t, "123456789", "192.168.1.129", now, nil), 7, "device is illegal"},
		{"stale time, window on", skewed, connectBody(t, "123456789", "192.168.1.128", now-3600, nil), 5, ""},
		{"future time, window on", skewed, connectBody(t, "123456789", "192.168.1.128", now+3600, nil), 5, ""},
		{"1970 clock, window off (D.12 default)", edge, connectBody(t, "123456789", "192.168.1.128", 0, nil), 0, "success"},
		{"the source's 2020 example, window off", edge, vec(t, "B.6.1_connect_0.json"), 0, "success"},
		{"time in the window", skewed, connectBody(t, "123456789", "192.168.1.128", now-60, nil), 0, "success"},
		{"missing sn", edge, connectBody(t, "123456789", "192.168.1.128", now, func(m map[string]any) { delete(m, "sn") }), 5, ""},
		{"unknown token", edge, []byte(`{"token":"nope"}`), 4, "device is offline"},
		{"missing token", edge, []byte(`{}`), 4, "device is offline"},
		{"token of 65 bytes", edge, []byte(`{"token":"` + strings.Repeat("x", 65) + `"}`), 4, "device is offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/connect"
			if !bytes.Contains(tc.body, []byte(`"sign`)) {
				path = "/keepalive"
			}
			got := post(t, tc.h, path, js, tc.body)
			assert.Equal(t, tc.code, code(t, got), "%v", got)
			if tc.msg != "" {
				assert.Equal(t, tc.msg, got["message"])
			}
		})
	}
	assert.NotZero(t, edge.Stats().Refused[6])
	assert.NotZero(t, edge.Stats().Refused[7])
}

// TestExpiredTokenAndReconnect: silence expires the token (code 4), the
// terminal reconnects by itself; an edge restart does the same; a terminal
// reboot makes the edge reconnect and retry once.
func TestExpiredTokenAndReconnect(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-EXPIRE-1")
	ctx := ctxT(t)

	// A token silent for longer than the window is refused with 4.
	tok := sim.Agent().Link().Token()
	require.NoError(t, sim.Pause())
	r.sink.next(t, accessctl.KindOffline)
	waitOnline(t, dev, false)
	got := postFrom(t, r.edge, "127.0.0.1:40000", "/keepalive", "application/json", []byte(`{"token":"`+tok+`"}`))
	assert.Equal(t, 4, code(t, got))
	assert.ErrorIs(t, dev.OpenDoor(ctx, accessctl.OpenRequest{}), accessctl.ErrOffline)

	// Back: online again, with a new token.
	require.NoError(t, sim.Resume())
	r.sink.next(t, accessctl.KindOnline)
	require.NoError(t, sim.WaitConnected(ctx))
	assert.NotEqual(t, tok, sim.Agent().Link().Token())

	// Edge restart: tokens dropped; the terminal's next keepalive gets 4 and
	// it connects again by itself, without going offline on the edge.
	before := sim.Agent().Link().Stats()
	r.edge.Invalidate("T-EXPIRE-1")
	require.Eventually(t, func() bool { return sim.Agent().Link().Stats().Connects > before.Connects }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, sim.PassCard(ctx, "C-1"), "events flow on the new token")

	// Terminal reboot: the edge's token is gone; OpenDoor gets 4,
	// reconnects and retries once, transparently.
	lb := dev.Client().Link().Stats()
	sim.Reboot()
	require.NoError(t, dev.OpenDoor(ctx, accessctl.OpenRequest{}))
	assert.Equal(t, 1, sim.DoorOpens())
	la := dev.Client().Link().Stats()
	// Either OpenDoor met code 4 and reconnected (D.7), or the rebooted
	// terminal's own /connect reached the edge first and the edge renewed
	// its link before the call: both are a new token, never a lost open.
	assert.GreaterOrEqual(t, la.Reconnects+la.Connects, lb.Reconnects+lb.Connects+1, "code 4 → /connect → retry (D.7), or a fresh /connect first")
}

// rawTerminal answers every request with a fixed status and body.
func rawTerminal(t *testing.T, status int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect" {
			_, _ = w.Write([]byte(`{"code":0,"message":"success","data":{"token":"tok"}}`))
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestClientErrorMapping: each kind of answer maps to its typed error.
func TestClientErrorMapping(t *testing.T) {
	ctx := ctxT(t)
	id := stdproto.Identity{SN: "edge-1", IP: "127.0.0.1"}
	for _, tc := range []struct {
		name, body string
		status     int
		want       []error
		code       string
	}{
		{"auth failed", `{"code":1,"message":"no"}`, 200, []error{accessctl.ErrRejected}, "1"},
		{"bad param", `{"code":5}`, 200, []error{accessctl.ErrRejected}, "5"},
		{"unsupported", `{"code":99,"message":"unsupported"}`, 200, []error{accessctl.ErrUnsupported, accessctl.ErrRejected}, "99"},
		{"code as a string", `{"code":"99","message":"busy"}`, 200, []error{accessctl.ErrRejected}, "99"},
		{"token invalid twice", `{"code":4,"message":"device is offline"}`, 200, []error{accessctl.ErrOffline, stdproto.ErrTokenInvalid}, ""},
		{"unknown path", `404 page not found`, 404, []error{accessctl.ErrUnsupported}, ""},
		{"not an envelope", `<html>oops</html>`, 200, []error{stdproto.ErrProtocol}, ""},
		{"server error page", `Internal Server Error`, 500, []error{stdproto.ErrProtocol}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := stdproto.NewClient(rawTerminal(t, tc.status, tc.body), id, nil)
			err := c.RemoteOpen(ctx)
			for _, w := range tc.want {
				assert.ErrorIs(t, err, w)
			}
			if tc.code != "" {
				var re *accessctl.RejectedError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tc.code, re.Code)
			}
		})
	}
	// A success without the data the interface defines is a protocol error.
	c := stdproto.NewClient(rawTerminal(t, 200, `{"code":0,"message":"success"}`), id, nil)
	_, err := c.KeepOpen(ctx)
	assert.ErrorIs(t, err, stdproto.ErrProtocol)
	// Nobody listening: offline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	err = stdproto.NewClient(addr, id, nil).RemoteOpen(ctx)
	assert.ErrorIs(t, err, accessctl.ErrOffline)
}

// TestTerminalThatNeverAnswers: bounded time, typed error, no leak.
func TestTerminalThatNeverAnswers(t *testing.T) {
	// A TCP peer that accepts and never writes a byte.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() { _ = ln.Close(); <-done }()
	c := stdproto.NewClient(ln.Addr().String(), stdproto.Identity{SN: "edge-1", IP: "127.0.0.1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.RemoteOpen(ctx)
	assert.ErrorIs(t, err, accessctl.ErrTimeout)
	assert.Less(t, time.Since(start), 2*time.Second)

	// A terminal whose backend hangs: OpenDoor ends at the caller's
	// deadline, the device handle stays usable.
	r := newRig(t)
	sim, dev := r.terminal(t, "T-SLOW-01")
	sim.SetDelay(time.Hour)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start = time.Now()
	err = dev.OpenDoor(ctx2, accessctl.OpenRequest{})
	assert.ErrorIs(t, err, accessctl.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, accessctl.SyncRetryableFailure, accessctl.SyncStateOf(accessctl.OpUpsert, err))
	sim.SetDelay(0)
	require.NoError(t, dev.OpenDoor(ctxT(t), accessctl.OpenRequest{}))
}

// TestBadInput: malformed and hostile bodies get code 5, never a panic.
func TestBadInput(t *testing.T) {
	edge, sink, _ := exampleEdge(t, stdproto.WithBodyLimits(64<<10, 256<<10, 32<<10))
	js := "application/json"
	require.Equal(t, 0, code(t, post(t, edge, "/connect", js, vec(t, "B.6.1_connect_0.json"))))
	tok := `"token":"` + exampleToken + `"`
	for _, tc := range []struct {
		name, path, body string
		code             int
	}{
		{"not JSON", "/alarmEvent", `{"token":`, 5},
		{"empty", "/alarmEvent", ``, 5},
		{"array", "/alarmEvent", `[1,2]`, 5},
		{"null", "/alarmEvent", `null`, 5},
		{"alarmType as text", "/alarmEvent", `{` + tok + `,"alarmType":"abc"}`, 5},
		{"alarmType missing", "/alarmEvent", `{` + tok + `}`, 5},
		{"alarmType as numeric text is drift, accepted", "/alarmEvent", `{` + tok + `,"alarmType":"2","cardId":"1"}`, 0},
		{"token as a number", "/keepalive", `{"token":5}`, 5},
		{"cardId as an object", "/cardAC/passEvent", `{` + tok + `,"cardId":{}}`, 5},
		{"cardId missing", "/cardAC/passEvent", `{` + tok + `}`, 5},
		{"qrCode empty", "/qrcode", `{` + tok + `,"qrCode":" "}`, 5},
		{"bad room id", "/visualIntercom/getGroupId", `{` + tok + `,"roomId":"12"}`, 5},
		{"run state enum", "/elevator/reportRunState", `{` + tok + `,"data":[{"currentFloor":"1","carState":7,"carDirection":0}]}`, 5},
		{"rule report mode", "/elevator/rule/report", `{` + tok + `,"ruleId":"r","userId":"u","authType":"card","authContent":"1","controlMode":"FLY"}`, 5},
		{"comments repaired (D.1)", "/keepalive", "{// the token\n" + tok + ",}", 0},
		{"oversized JSON", "/alarmEvent", `{` + tok + `,"alarmType":1,"cardId":"` + strings.Repeat("9", 70<<10) + `"}`, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := post(t, edge, tc.path, js, []byte(tc.body))
			assert.Equal(t, tc.code, code(t, got), "%v", got)
		})
	}
	// The door opened: a bad photo loses the photo, not the pass record.
	t.Run("oversized face photo", func(t *testing.T) {
		big := append(stdprototest.Photo("x"), bytes.Repeat([]byte{0}, 40<<10)...)
		ct, body := multipartBody(t, [][2]string{{"token", exampleToken}, {"faceId", "f1"}, {"similarity", "0.9"}}, big)
		got := post(t, edge, "/faceAC/passEvent", ct, body)
		assert.Equal(t, 0, code(t, got), "%v", got)
		ev := sink.next(t, accessctl.KindPass)
		require.NotNil(t, ev.Pass)
		assert.Contains(t, ev.Pass.SnapshotDropped, "photo larger")
		assert.Nil(t, ev.Pass.Snapshot)
	})
	t.Run("oversized multipart body", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"token", exampleToken}, {"junk", strings.Repeat("x", 300<<10)}}, stdprototest.Photo("x"))
		got := post(t, edge, "/recognize", ct, body)
		assert.Equal(t, 5, code(t, got))
	})
	t.Run("photo not an image", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"token", exampleToken}, {"faceId", "f1"}, {"similarity", "0.9"}}, []byte("GIF89a not ours"))
		got := post(t, edge, "/faceAC/passEvent", ct, body)
		assert.Equal(t, 0, code(t, got), "the pass is kept, answered success so it is not resent")
		ev := sink.next(t, accessctl.KindPass)
		assert.Equal(t, "photo is not a JPEG or PNG", ev.Pass.SnapshotDropped)
	})
	t.Run("recognize still refuses a bad photo", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"token", exampleToken}}, []byte("GIF89a not ours"))
		got := post(t, edge, "/recognize", ct, body)
		assert.Equal(t, 5, code(t, got), "nothing to recognise, no door opened")
	})
	t.Run("similarity out of range", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"token", exampleToken}, {"faceId", "f1"}, {"similarity", "1.5"}}, stdprototest.Photo("x"))
		assert.Equal(t, 5, code(t, post(t, edge, "/faceAC/passEvent", ct, body)))
	})
	t.Run("multipart without token", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"faceId", "f1"}, {"similarity", "0.5"}}, stdprototest.Photo("x"))
		assert.Equal(t, 4, code(t, post(t, edge, "/faceAC/passEvent", ct, body)))
	})
	t.Run("not multipart", func(t *testing.T) {
		assert.Equal(t, 5, code(t, post(t, edge, "/recognize", js, []byte(`{}`))))
	})
	t.Run("GET is 405, unknown path 404", func(t *testing.T) {
		req := func(method, path string) *http.Request {
			r := httptest.NewRequest(method, path, nil)
			r.RemoteAddr = exampleHost + ":40000"
			return r
		}
		rec := httptest.NewRecorder()
		edge.ServeHTTP(rec, req(http.MethodGet, "/keepalive"))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		rec = httptest.NewRecorder()
		edge.ServeHTTP(rec, req(http.MethodPost, "/nope"))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	})
}

// TestSinkRefusalIsNotAcknowledged: a terminal is not told success before
// the sink accepted its event, so it can send it again.
func TestSinkRefusalIsNotAcknowledged(t *testing.T) {
	r := newRig(t)
	sim, _ := r.terminal(t, "T-SINK-01")
	ctx := ctxT(t)
	r.sink.setFail(errors.New("platform down"))
	err := sim.PassCard(ctx, "777342461")
	var ce *stdproto.CodeError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, stdproto.CodeOther, ce.Code)
	assert.Contains(t, ce.Message, "platform down")
	r.sink.setFail(nil)
	require.NoError(t, sim.PassCard(ctx, "777342461"), "the resend is accepted")
	e := r.sink.next(t, accessctl.KindPass)
	assert.Equal(t, "777342461", e.Pass.Credential)
	assert.GreaterOrEqual(t, r.edge.Stats().SinkErrors, uint64(1))
}

// TestPutGrantCardsAndFaces: cards and BLE with the person's window, the
// card pass resolves to the person, a removed card is deleted.
func TestPutGrantCardsAndFaces(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-GRANT-1")
	ctx := ctxT(t)
	from := time.UnixMilli(1589472000000)
	to := time.UnixMilli(1905004800000)
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "u-1"}, Name: "张三", ValidFrom: &from, ValidTo: &to,
		Credentials: []accessctl.Credential{
			{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: stdprototest.Photo("u-1")}},
			{Kind: accessctl.CredCard, Value: "f47b0ba2"},
			{Kind: accessctl.CredBLECard, Value: "514152694808390"},
			{Kind: accessctl.CredPassword, Value: "1234"},
		}}
	require.NoError(t, dev.PutGrant(ctx, g))
	f, ok := sim.Face("u-1")
	require.True(t, ok)
	assert.Equal(t, "张三", f.UserName)
	assert.Equal(t, "u-1", f.UserID)
	assert.Equal(t, "1905004800000", f.ExpiryTime)
	assert.Len(t, f.Feature, 16)
	card, ok := sim.Card("F47B0BA2")
	require.True(t, ok, "hex letters upper-cased")
	assert.Equal(t, stdproto.Text("1589472000000"), card.EffectiveTime)
	_, ok = sim.BLECard("514152694808390")
	require.True(t, ok)

	require.NoError(t, sim.PassCard(ctx, "F47B0BA2"))
	e := r.sink.next(t, accessctl.KindPass)
	require.NotNil(t, e.Pass.Person)
	assert.Equal(t, "u-1", e.Pass.Person.ID)
	assert.Equal(t, "张三", e.Pass.PersonName)

	// New card replaces the old one.
	g.Credentials[1].Value = "A1B2C3D4"
	require.NoError(t, dev.PutGrant(ctx, g))
	_, ok = sim.Card("F47B0BA2")
	assert.False(t, ok)
	_, ok = sim.Card("A1B2C3D4")
	assert.True(t, ok)
	got, err := dev.GetGrant(ctx, accessctl.PersonRef{ID: "u-1"})
	require.NoError(t, err)
	assert.Equal(t, "张三", got.Name)
	assert.Len(t, got.Credentials, 2)

	require.NoError(t, dev.RemoveGrant(ctx, accessctl.PersonRef{ID: "u-1"}))
	_, ok = sim.Card("A1B2C3D4")
	assert.False(t, ok)
	_, ok = sim.BLECard("514152694808390")
	assert.False(t, ok)
	assert.Equal(t, 0, sim.FaceCount())

	// A face without an extractor cannot be synced: unsupported, not silent.
	r2 := newRig(t, stdproto.WithFeatureExtractor(nil))
	_, dev2 := r2.terminal(t, "T-GRANT-2")
	assert.ErrorIs(t, dev2.PutGrant(ctx, g), accessctl.ErrUnsupported)
	// A bad photo is invalid input.
	g.Credentials[0].Face = &accessctl.Image{Data: []byte("not a photo")}
	assert.ErrorIs(t, dev.PutGrant(ctx, g), accessctl.ErrInvalid)
}

// TestBatchLimits: 120 faces go in 50-face calls, 450 cards in 200-entry
// calls, with per-item results; a failing batch stops the rest.
func TestBatchLimits(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-BATCH-1")
	ctx := ctxT(t)
	var faces []stdproto.FaceOp
	for i := 0; i < 120; i++ {
		faces = append(faces, stdproto.FaceOp{Type: stdproto.FaceAdd, FaceID: fmt.Sprintf("f-%03d", i), UserInfo: &stdproto.UserInfo{UserID: fmt.Sprint(i)}})
	}
	before := sim.FaceSyncs()
	res, err := dev.Client().SyncFaces(ctx, faces)
	require.NoError(t, err)
	require.Len(t, res, 120)
	assert.Equal(t, 3, sim.FaceSyncs()-before, "⌈120/50⌉ calls")
	assert.Equal(t, 120, sim.FaceCount())

	sim.SetPageLimit(50)
	all, err := dev.Client().AllFaces(ctx)
	require.NoError(t, err)
	assert.Len(t, all, 120, "the full query pages at 50")
	refs, err := dev.ListGrants(ctx)
	require.NoError(t, err)
	assert.Len(t, refs, 120)

	var perms []stdproto.Permission
	for i := 0; i < 450; i++ {
		perms = append(perms, stdproto.Permission{Type: stdproto.PermAdd, CardID: fmt.Sprint(1000 + i), EffectiveTime: "0", ExpiryTime: "1905004800000"})
	}
	// Only card syncs count: a link renewed meanwhile (a keepalive late on
	// a loaded machine) makes the edge query the face library again, three
	// pages of 50, which once made this read 6.
	cardSyncs := func() int {
		n := 0
		for _, c := range sim.Commands() {
			if c == "cardAC/syncPermissions" {
				n++
			}
		}
		return n
	}
	n0 := cardSyncs()
	res, err = dev.Client().SyncCards(ctx, perms)
	require.NoError(t, err)
	assert.Len(t, res, 450)
	assert.Equal(t, 3, cardSyncs()-n0, "⌈450/200⌉ calls")

	// The terminal refuses: the first batch carries the refusal, the
	// others were not sent.
	sim.FailWith(stdproto.CodeOther)
	res, err = dev.Client().SyncCards(ctx, perms)
	assert.ErrorIs(t, err, accessctl.ErrRejected)
	assert.ErrorIs(t, res[0].Err, accessctl.ErrRejected)
	assert.ErrorIs(t, res[449].Err, stdproto.ErrNotSent)
	assert.Equal(t, "1449", res[449].Key)
	sim.FailWith(0)

	// Too many per call is refused by a receiver.
	big, _ := json.Marshal(stdproto.SyncFacesRequest{Token: "t", Faces: append(faces, faces...)[:51]})
	_, err = stdproto.Decode[stdproto.SyncFacesRequest](big)
	assert.ErrorIs(t, err, stdproto.ErrBadRequest)
}

// TestReprovisionedAddress: a terminal that moved to another port is
// called back at the new address after Provision.
func TestReprovisionedAddress(t *testing.T) {
	r := newRig(t)
	old, dev := r.terminal(t, "T-MOVE-01")
	require.NoError(t, old.Pause())
	sim, err := stdprototest.Start(stdprototest.Config{SN: "T-MOVE-01", Edge: r.addr(), Keepalive: 50 * time.Millisecond})
	require.NoError(t, err)
	defer sim.Close()
	require.NoError(t, r.edge.Provision(stdproto.TerminalConfig{SN: "T-MOVE-01", Addr: sim.Addr()}))
	ctx := ctxT(t)
	require.NoError(t, sim.WaitConnected(ctx))
	require.Eventually(t, func() bool { return dev.OpenDoor(ctx, accessctl.OpenRequest{}) == nil }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, sim.DoorOpens())
	assert.Equal(t, 0, old.DoorOpens())
	st, err := dev.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sim.Addr(), st.Info.Extra["addr"])
}

// TestCardsRepushedAfterReconnect: a terminal that lost its whitelist gets
// every card again when it reconnects (D.8; cards cannot be read back).
func TestCardsRepushedAfterReconnect(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-REPUSH-1")
	ctx := ctxT(t)
	require.NoError(t, dev.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "u-9"}, Name: "n",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "C-900"}, {Kind: accessctl.CredBLECard, Value: "B-900"}}}))
	require.NoError(t, sim.Pause())
	sim.Reset()
	require.NoError(t, sim.Resume())
	require.Eventually(t, func() bool {
		_, c := sim.Card("C-900")
		_, b := sim.BLECard("B-900")
		return c && b
	}, 5*time.Second, 20*time.Millisecond)
	// Removed cards are not resurrected.
	require.NoError(t, dev.RemoveGrant(ctx, accessctl.PersonRef{ID: "u-9"}))
	require.NoError(t, sim.Pause())
	require.NoError(t, sim.Resume())
	require.NoError(t, sim.WaitConnected(ctx))
	waitOnline(t, dev, true)
	require.NoError(t, dev.OpenDoor(ctx, accessctl.OpenRequest{}), "the link is up again")
	_, ok := sim.Card("C-900")
	assert.False(t, ok)
}

// TestRecognizeTemperatureRule: out of range is refused with code 1 and a
// denied pass, before the recognizer is asked (B.7.1).
func TestRecognizeTemperatureRule(t *testing.T) {
	edge, sink, _ := exampleEdge(t, stdproto.WithTempCheckRule(stdproto.TempRule{IsCheck: 1, MaxThreshold: "37.3", MinThreshold: "35.5"}))
	require.Equal(t, 0, code(t, post(t, edge, "/connect", "application/json", vec(t, "B.6.1_connect_0.json"))))
	for temp, want := range map[string]int{"36.5": 0, "38.2": 1, "": 0, "hot": 1} {
		fields := [][2]string{{"token", exampleToken}}
		if temp != "" {
			fields = append(fields, [2]string{"temperature", temp})
		}
		ct, body := multipartBody(t, fields, stdprototest.Photo("t"))
		got := post(t, edge, "/recognize", ct, body)
		assert.Equal(t, want, code(t, got), "temperature %q: %v", temp, got)
		e := sink.next(t, accessctl.KindPass)
		assert.Equal(t, want == 0, e.Pass.Result.Granted, temp)
	}
}
