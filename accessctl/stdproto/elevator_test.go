package stdproto_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
)

func ip(v int) *stdproto.Int { i := stdproto.Int(v); return &i }

func TestRuleValidationPerMode(t *testing.T) {
	target := []stdproto.FloorRoom{{Floor: "9", RoomNumber: "01"}}
	for _, tc := range []struct {
		name string
		r    stdproto.Rule
		ok   bool
	}{
		{"call only", stdproto.Rule{ControlMode: stdproto.ModeCallOnly, StartFloor: "1"}, true},
		{"call only with targets", stdproto.Rule{ControlMode: stdproto.ModeCallOnly, StartFloor: "1", TargetFloorRoomList: target}, false},
		{"call with target", stdproto.Rule{ControlMode: stdproto.ModeCallWithTarget, StartFloor: "1", TargetFloorRoomList: target}, true},
		{"call with target, no start", stdproto.Rule{ControlMode: stdproto.ModeCallWithTarget, TargetFloorRoomList: target}, false},
		{"release only", stdproto.Rule{ControlMode: stdproto.ModeReleaseOnly, TargetFloorRoomList: target}, true},
		{"release only with start", stdproto.Rule{ControlMode: stdproto.ModeReleaseOnly, StartFloor: "1", TargetFloorRoomList: target}, false},
		{"activate only", stdproto.Rule{ControlMode: stdproto.ModeActivateOnly, TargetFloorRoomList: target}, true},
		{"activate only, no target", stdproto.Rule{ControlMode: stdproto.ModeActivateOnly}, false},
		{"unknown mode", stdproto.Rule{ControlMode: "FLY"}, false},
		{"delay 300", stdproto.Rule{ControlMode: stdproto.ModeCallOnly, StartFloor: "1", DelaySeconds: ip(300)}, true},
		{"delay 301", stdproto.Rule{ControlMode: stdproto.ModeCallOnly, StartFloor: "1", DelaySeconds: ip(301)}, false},
		{"target without floor", stdproto.Rule{ControlMode: stdproto.ModeReleaseOnly, TargetFloorRoomList: []stdproto.FloorRoom{{RoomNumber: "1"}}}, false},
	} {
		err := tc.r.Validate()
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorIs(t, err, stdproto.ErrBadRequest, tc.name)
			assert.ErrorIs(t, err, accessctl.ErrInvalid, tc.name)
		}
	}
	for room, ok := range map[string]bool{"1-9-3-1202": true, "1-10-3A-1709": true, "1-5-767-801": true, "10-999-9999-99999": true,
		"1-9-3": false, "1--3-1202": false, "1-9-3-12 02": false, "": false} {
		assert.Equal(t, ok, stdproto.ValidateRoomID(room) == nil, room)
	}
}

// TestValidationBothDirections: a client refuses to send what a receiver
// would refuse, and a receiver answers 5 to it.
func TestValidationBothDirections(t *testing.T) {
	mem := stdprotoMemory()
	h := stdproto.NewTerminalHandler(mem, stdproto.WithHandlerTokens(func(string, string) string { return exampleToken }, 0))
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := stdproto.NewClient(srv.Listener.Addr().String(), stdproto.Identity{SN: "edge-1", IP: "127.0.0.1"}, nil)
	ctx := ctxT(t)
	require.NoError(t, c.Link().Connect(ctx))
	n := len(mem.Commands())
	for name, err := range map[string]error{
		"activate without floors": c.ActivateFloor(ctx, stdproto.ActivateFloorRequest{}),
		"call without start":      c.CallElevator(ctx, stdproto.CallRequest{TargetFloor: "8"}),
		"call bad direction":      c.CallElevator(ctx, stdproto.CallRequest{StartFloor: "1", TargetDirection: ip(3)}),
		"sip port":                c.SyncSipNumber(ctx, stdproto.SipNumberRequest{SipNumber: "a", SipServerAddr: "b", SipServerPort: "http"}),
		"temp min > max":          c.SetTempCheckRule(ctx, stdproto.TempRule{IsCheck: 1, MaxThreshold: "36", MinThreshold: "37"}),
	} {
		assert.ErrorIs(t, err, accessctl.ErrInvalid, name)
	}
	_, err := c.SyncRules(ctx, []stdproto.RuleOp{{Rule: stdproto.Rule{ControlMode: stdproto.ModeCallOnly, StartFloor: "1"}}})
	assert.ErrorIs(t, err, accessctl.ErrInvalid, "rule without ruleId")
	assert.Equal(t, n, len(mem.Commands()), "nothing invalid was sent")

	js := "application/json"
	tok := `"version":"2021-12-13","token":"` + exampleToken + `"`
	for path, body := range map[string]string{
		"/elevator/activateFloor":           `{` + tok + `}`,
		"/elevator/call":                    `{` + tok + `,"targetFloor":8}`,
		"/elevator/rule/sync":               `{` + tok + `,"rules":[{"type":9,"ruleId":"r"}]}`,
		"/elevator/rule/setAvailability":    `{` + tok + `,"availability":"maybe"}`,
		"/setTempCheckRule":                 `{"token":"` + exampleToken + `","data":{"isCheck":1,"maxThreshold":"36","minThreshold":"37"}}`,
		"/setKeepOpen":                      `{"token":"` + exampleToken + `","data":{"keepOpen":2}}`,
		"/faceAC/syncFaces":                 `{"token":"` + exampleToken + `","faces":[{"type":1}]}`,
		"/cardAC/syncPermissions":           `{"token":"` + exampleToken + `","permissions":[{"type":1}]}`,
		"/visualIntercom/verifyPhoneResult": `{"token":"` + exampleToken + `","phoneNumber":"1","result":3}`,
	} {
		got := postFrom(t, h, "127.0.0.1:40000", path, js, []byte(body))
		assert.Equal(t, 5, code(t, got), "%s: %v", path, got)
	}
	// Accepted drift: thresholds as numbers, version absent or unknown (C.B.38).
	assert.Equal(t, 0, code(t, postFrom(t, h, "127.0.0.1:40000", "/setTempCheckRule", js, []byte(`{"token":"`+exampleToken+`","data":{"isCheck":1,"maxThreshold":37.5,"minThreshold":36.5}}`))))
	assert.Equal(t, 0, code(t, postFrom(t, h, "127.0.0.1:40000", "/elevator/info/get", js, []byte(`{"token":"`+exampleToken+`"}`))))
	assert.Equal(t, 0, code(t, postFrom(t, h, "127.0.0.1:40000", "/elevator/info/get", js, []byte(`{"version":"2099-01-01","token":"`+exampleToken+`"}`))))
}

// TestElevatorAndIntercomFlows drives B.10 and B.11 end to end between the
// edge and a simulated terminal.
func TestElevatorAndIntercomFlows(t *testing.T) {
	ic := &intercom{}
	r := newRig(t, stdproto.WithIntercom(ic), stdproto.WithSipAccount(func(sn string) (stdproto.SipNumberRequest, bool) {
		return stdproto.SipNumberRequest{SipNumber: "sip-" + sn, Password: "secret", SipServerAddr: "127.0.0.1", SipServerPort: "5060"}, true
	}))
	sim, dev := r.terminal(t, "T-ELEV-01")
	ctx := ctxT(t)
	c := dev.Client()

	// SIP account pushed after the link set-up (B.3 rule 4); never printed.
	require.Eventually(t, func() bool { _, ok := sim.Sip(); return ok }, 5*time.Second, 10*time.Millisecond)
	sip, _ := sim.Sip()
	assert.Equal(t, "sip-T-ELEV-01", sip.SipNumber)
	assert.NotContains(t, sip.String(), "secret")

	// Intercom: room → group, asynchronous phone check.
	gid, err := sim.Agent().GroupID(ctx, "1-9-3-1202")
	require.NoError(t, err)
	assert.Equal(t, "4sewsEXT8ezMnlHlbWkjbL", gid)
	_, err = sim.Agent().GroupID(ctx, "1-9-3-9999")
	assert.ErrorIs(t, err, accessctl.ErrRejected)
	require.NoError(t, sim.Agent().CheckPhone(ctx, "18012345678"))
	ic.mu.Lock()
	assert.Equal(t, []string{"18012345678"}, ic.phones)
	ic.mu.Unlock()
	require.NoError(t, c.VerifyPhoneResult(ctx, "18012345678", false))
	valid, ok := sim.PhoneVerdict("18012345678")
	assert.True(t, ok)
	assert.False(t, valid)
	typ := stdproto.Int(stdproto.IntercomPhone)
	require.NoError(t, sim.Agent().ReportOpenDoor(ctx, stdproto.OpenDoorReport{Type: &typ, Number: "18012345678"}))
	e := r.sink.next(t, accessctl.KindPass)
	assert.Equal(t, accessctl.MethodIntercom, e.Pass.Method)
	assert.Equal(t, "18012345678", e.Pass.Credential)

	// Elevator control.
	info, err := c.ElevatorInfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, stdproto.ElevatorAll, info.ElevatorMode)
	require.NoError(t, c.CallElevator(ctx, stdproto.CallRequest{ElevatorID: "01", StartFloor: "1", TargetFloor: "9", TargetRoom: "901"}))
	require.NoError(t, c.ReleaseFloors(ctx, stdproto.ReleaseFloorsRequest{ElevatorID: "01"}))
	require.NoError(t, c.ActivateFloor(ctx, stdproto.ActivateFloorRequest{FloorRoomList: []stdproto.FloorRoom{{Floor: "9", RoomNumber: "901"}}}))
	cars, err := c.GetRunState(ctx)
	require.NoError(t, err)
	require.Len(t, cars, 1)
	assert.Contains(t, sim.Commands(), "call 01 1->9")
	assert.Contains(t, sim.Commands(), "activateFloor  [{9 901}]")

	// Car state reported by the controller reaches the edge.
	require.NoError(t, sim.Agent().ReportRunState(ctx, []stdproto.CarState{{ElevatorID: "01", CurrentFloor: "9", CarState: 1, CarDirection: 2}}))
	r.sink.next(t, stdproto.KindElevatorState)
	assert.Equal(t, stdproto.Text("9"), dev.ElevatorStates()[0].CurrentFloor)

	// Person–elevator linkage: rules, paging, availability, a report.
	var ops []stdproto.RuleOp
	for _, id := range []string{"r1", "r2", "r3"} {
		ops = append(ops, stdproto.RuleOp{Rule: stdproto.Rule{RuleID: id, UserID: "u-" + id, ControlMode: stdproto.ModeActivateOnly,
			TargetFloorRoomList: []stdproto.FloorRoom{{Floor: "9"}}}})
	}
	_, err = c.SyncRules(ctx, ops)
	require.NoError(t, err)
	page, err := c.GetRules(ctx, 2, 2)
	require.NoError(t, err)
	assert.EqualValues(t, 2, page.PageCount)
	require.Len(t, page.UserData, 1)
	assert.Equal(t, "r3", page.UserData[0].RuleID)
	_, err = c.SyncRules(ctx, []stdproto.RuleOp{{Type: ip(stdproto.RuleDelete), Rule: stdproto.Rule{RuleID: "r1"}}})
	require.NoError(t, err)
	_, ok = sim.Rule("r1")
	assert.False(t, ok)
	require.NoError(t, c.SetRuleAvailability(ctx, false))
	on, err := c.RuleAvailability(ctx)
	require.NoError(t, err)
	assert.False(t, on)
	require.NoError(t, sim.Agent().ReportRule(ctx, stdproto.RuleReport{RuleID: "r2", UserID: "u-r2", AuthType: stdproto.AuthCard,
		AuthContent: "777342461", ControlMode: stdproto.ModeActivateOnly, TargetFloorRoomList: []stdproto.FloorRoom{{Floor: "9"}}}))
	e = r.sink.next(t, accessctl.KindPass)
	assert.Equal(t, accessctl.MethodCard, e.Pass.Method)
	assert.Equal(t, "u-r2", e.Pass.Person.ID)

	// Temperature rule and keep-open through the device handle.
	require.NoError(t, c.SetTempCheckRule(ctx, stdproto.TempRule{IsCheck: 1, MaxThreshold: "37.3", MinThreshold: "35"}))
	rule, ok := sim.TempRule()
	require.True(t, ok)
	assert.Equal(t, stdproto.Text("37.3"), rule.MaxThreshold)
	require.NoError(t, dev.SetKeepOpen(ctx, 0, true))
	open, err := dev.KeepOpen(ctx, 0)
	require.NoError(t, err)
	assert.True(t, open)
	assert.ErrorIs(t, dev.SetKeepOpen(ctx, 2, true), accessctl.ErrUnsupported, "no door index")

	// The elevator interfaces are paced at 100/s per terminal (D.17).
	start := time.Now()
	for i := 0; i < 20; i++ {
		_, err := c.GetRunState(ctx, "01")
		require.NoError(t, err)
	}
	assert.GreaterOrEqual(t, time.Since(start), 180*time.Millisecond)
}

// openOnly is a terminal backend with no optional capability.
type openOnly struct{}

func (openOnly) RemoteOpen(context.Context) error { return nil }

func TestMissingCapabilitiesAreUnsupported(t *testing.T) {
	srv := httptest.NewServer(stdproto.NewTerminalHandler(openOnly{}))
	defer srv.Close()
	c := stdproto.NewClient(srv.Listener.Addr().String(), stdproto.Identity{SN: "edge-1", IP: "127.0.0.1"}, nil)
	ctx := ctxT(t)
	require.NoError(t, c.RemoteOpen(ctx))
	assert.ErrorIs(t, c.SetKeepOpen(ctx, true), accessctl.ErrUnsupported)
	_, err := c.QueryFaces(ctx, 0, 0)
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
	_, err = c.ElevatorInfo(ctx)
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
	_, err = c.SyncCards(ctx, []stdproto.Permission{{Type: 1, CardID: "1"}})
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
}

// TestTerminalRateLimit: over 100 requests/s an elevator interface answers
// 99 "rate limited" (C.B.40); other interfaces are not limited.
func TestTerminalRateLimit(t *testing.T) {
	h := stdproto.NewTerminalHandler(stdprotoMemory(), stdproto.WithEdgeIP(exampleHost), stdproto.WithHandlerTokens(func(string, string) string { return exampleToken }, 0))
	js := "application/json"
	require.Equal(t, 0, code(t, post(t, h, "/connect", js, vec(t, "B.6.1_connect_0.json"))))
	body := vec(t, "B.11.2_*_0.json")
	ok, limited := 0, 0
	for i := 0; i < 2000 && limited == 0; i++ {
		got := post(t, h, "/elevator/getRunState", js, body)
		if code(t, got) == 99 {
			assert.Equal(t, "rate limited", got["message"])
			limited++
		} else {
			ok++
		}
	}
	assert.Equal(t, 1, limited, "a burst beyond the bucket is refused")
	assert.GreaterOrEqual(t, ok, 100, "the first 100 pass")
	for i := 0; i < 150; i++ {
		require.Equal(t, 0, code(t, post(t, h, "/keepalive", js, vec(t, "B.6.2_*_0.json"))))
	}
}
