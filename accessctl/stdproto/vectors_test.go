package stdproto_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// The source's example token; edges and terminals under test issue it so
// that the examples replay byte for byte.
const exampleToken = "6f2ae65e-d7f3-11ea-9a16-6c96cfdfd355-192-168-1-128"

const plainSuccess = `{"code": 0, "message": "success"}`

func vec(t testing.TB, name string) []byte {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join("testdata", "spec", name))
	require.NoError(t, err)
	require.Len(t, matches, 1, "vector %s", name)
	b, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	return b
}

// repairedSyncFaces is the syncFaces example made parseable as the spec
// says: delete ",  ..." from the three feature arrays, nothing else.
func repairedSyncFaces(t testing.TB) []byte {
	return bytes.ReplaceAll(vec(t, "B.7.2_*_0.txt"), []byte(",  ..."), nil)
}

func TestSignWorkedExample(t *testing.T) {
	// Part E signature vectors.
	for _, tc := range []struct{ method, want string }{
		{"md5", "4db51117ad87cef349f45a3b14c05142"},
		{"sha1", "b5d6f31aa47695764bb66399cd3da86a1e36b862"},
		{"sha256", "df93bb43875266f6895507547ca4f36bfbfd1849a3e374500c7d8e4cc4212ea0"},
	} {
		got, err := stdproto.Sign(tc.method, 1589472000, "00-16-EA-AE-3D-40", "123456789", "192.168.1.128")
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.method)
	}
	assert.Equal(t, "TIME{1589472000}MAC{00-16-EA-AE-3D-40}SN{123456789}IP{192.168.1.128}",
		stdproto.SignString("1589472000", "00-16-EA-AE-3D-40", "123456789", "192.168.1.128"))

	req, err := stdproto.Decode[stdproto.ConnectRequest](vec(t, "B.6.1_connect_0.json"))
	require.NoError(t, err)
	require.NoError(t, stdproto.VerifySign(req), "the source's own example must verify")

	// Accepted on verify (B.4, C.B.1–2): brace-less form, any case, hyphen,
	// missing method inferred from the length.
	ok := func(mut func(r *stdproto.ConnectRequest)) error {
		r := *req
		mut(&r)
		return stdproto.VerifySign(&r)
	}
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) { r.Sign = "4f8701cbc7c4d92ce04a9fc369e7a414" }), "brace-less md5")
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) { r.Sign = strings.ToUpper(r.Sign) }), "upper-case digest")
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) { r.SignMethod = "MD5" }))
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) { r.SignMethod = "" }), "method inferred from 32 hex chars")
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) {
		r.SignMethod, r.Sign = "SHA-1", "b5d6f31aa47695764bb66399cd3da86a1e36b862"
	}))
	assert.NoError(t, ok(func(r *stdproto.ConnectRequest) {
		r.SignMethod, r.Sign = "", "df93bb43875266f6895507547ca4f36bfbfd1849a3e374500c7d8e4cc4212ea0"
	}))
	// Refused.
	assert.ErrorIs(t, ok(func(r *stdproto.ConnectRequest) { r.Sign = "4db51117ad87cef349f45a3b14c05143" }), stdproto.ErrBadSign)
	assert.ErrorIs(t, ok(func(r *stdproto.ConnectRequest) { r.MAC = "00:16:EA:AE:3D:40" }), stdproto.ErrBadSign, "the sign covers the MAC as sent")
	assert.ErrorIs(t, ok(func(r *stdproto.ConnectRequest) { r.SignMethod = "crc32" }), stdproto.ErrBadRequest)

	// time as a string is read as the same digits (D.2).
	b := bytes.Replace(vec(t, "B.6.1_connect_0.json"), []byte("1589472000"), []byte(`"1589472000"`), 1)
	r2, err := stdproto.Decode[stdproto.ConnectRequest](b)
	require.NoError(t, err)
	require.NoError(t, stdproto.VerifySign(r2))
}

// exampleHost is the address of the spec's examples (the terminal's ip,
// and the edge's in its /connect): in-process requests come from there,
// since both sides authenticate the socket address.
const exampleHost = "192.168.1.128"

// post sends body to h in process, from exampleHost, and returns the
// decoded answer.
func post(t *testing.T, h http.Handler, path, contentType string, body []byte) map[string]any {
	t.Helper()
	return postFrom(t, h, exampleHost+":40000", path, contentType, body)
}

// postFrom is post from the socket address from.
func postFrom(t *testing.T, h http.Handler, from, path, contentType string, body []byte) map[string]any {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.RemoteAddr = from
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body.String())
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "%s answered %q", path, rec.Body.String())
	return out
}

func asJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// multipartBody builds a form like the source's field listings.
func multipartBody(t *testing.T, fields [][2]string, photo []byte) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	if photo != nil {
		pw, err := w.CreateFormFile("photo", "xxx.jpg")
		require.NoError(t, err)
		_, _ = pw.Write(photo)
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), buf.Bytes()
}

type intercom struct {
	mu     sync.Mutex
	phones []string
}

func (i *intercom) GroupID(_ context.Context, sn, room string) (string, error) {
	if room == "1-9-3-1202" {
		return "4sewsEXT8ezMnlHlbWkjbL", nil
	}
	return "", &stdproto.CodeError{Code: stdproto.CodeBadParam, Message: "unknown room"}
}

func (i *intercom) CheckPhone(_ context.Context, sn, phone string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.phones = append(i.phones, phone)
	return nil
}

// exampleEdge is an edge that issues the example token, knows the example
// terminal (sn 123456789, ip 192.168.1.128) and decides like the examples.
func exampleEdge(t *testing.T, extra ...stdproto.Option) (*stdproto.Edge, *recorder, *stdprototest.Memory) {
	return exampleEdgeFrom(t, exampleHost, extra...)
}

// exampleEdgeFrom is exampleEdge with the terminal's requests coming from
// peer (a real client on loopback) while it states the example's ip.
func exampleEdgeFrom(t *testing.T, peer string, extra ...stdproto.Option) (*stdproto.Edge, *recorder, *stdprototest.Memory) {
	sink := newRecorder()
	mem := stdprototest.NewMemory()
	// The edge calls the terminal back on loopback, not on 192.168.1.128.
	term := httptest.NewServer(stdproto.NewTerminalHandler(mem))
	t.Cleanup(term.Close)
	opts := append(fastEdgeOptions(sink),
		stdproto.WithTokenGenerator(func(string, string) string { return exampleToken }),
		stdproto.WithOfflineAfter(0), // 3 × keepalive (90 s)
		stdproto.WithQRDecider(accessctl.DeciderFunc(func(_ context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
			if r.Credential.Value == "ALI1234567890azxswdfghggfgsgERTG" {
				return accessctl.Decision{Allow: true, Person: &accessctl.PersonRef{ID: "123456"}}, nil
			}
			return accessctl.Decision{Allow: false}, nil
		})),
		stdproto.WithRecognizer(accessctl.DeciderFunc(func(_ context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
			if accessctl.SniffImage(r.Credential.Face.Data) == "image/jpeg" {
				return accessctl.Decision{Allow: true, Person: &accessctl.PersonRef{ID: "123456"}, Name: "王小飞"}, nil
			}
			return accessctl.Decision{}, nil
		})),
		stdproto.WithIntercom(&intercom{}),
	)
	edge := stdproto.NewEdge(append(opts, extra...)...)
	t.Cleanup(func() { _ = edge.Close() })
	require.NoError(t, edge.Provision(stdproto.TerminalConfig{SN: "123456789", IP: "192.168.1.128", PeerIP: peer, Addr: term.Listener.Addr().String()}))
	return edge, sink, mem
}

// TestEdgeAnswersSpecExamples posts every terminal → edge example of the
// source, verbatim, and compares the answers with the source's.
func TestEdgeAnswersSpecExamples(t *testing.T) {
	edge, sink, _ := exampleEdge(t)
	js := "application/json"

	got := post(t, edge, "/connect", js, vec(t, "B.6.1_connect_0.json"))
	assert.JSONEq(t, string(vec(t, "B.6.1_connect_1.json")), asJSON(t, got))

	for _, tc := range []struct {
		path, req, resp string
		kind            accessctl.EventKind
	}{
		{"/keepalive", "B.6.2_*_0.json", plainSuccess, ""},
		{"/alarmEvent", "B.6.4_*_0.json", plainSuccess, accessctl.KindAlarm},
		{"/qrcode", "B.8.1_*_0.json", string(vec(t, "B.8.1_*_1.json")), accessctl.KindPass},
		{"/cardAC/passEvent", "B.9.2_*_0.json", plainSuccess, accessctl.KindPass},
		{"/bleAC/passEvent", "B.9.4_*_0.json", plainSuccess, accessctl.KindPass},
		{"/visualIntercom/getGroupId", "B.10.2_*_0.json", string(vec(t, "B.10.2_*_1.json")), ""},
		{"/visualIntercom/checkPhoneNumber", "B.10.3_*_0.json", plainSuccess, ""},
		{"/visualIntercom/reportOpenDoor", "B.10.5_*_0.json", plainSuccess, accessctl.KindPass},
		{"/elevator/reportRunState", "B.11.1_*_0.json", plainSuccess, stdproto.KindElevatorState},
		// The source's answer has a trailing comma; its repaired form:
		{"/elevator/rule/report", "B.11.9_*_0.json", `{"code":0,"message":"success"}`, accessctl.KindPass},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			got := post(t, edge, tc.path, js, vec(t, tc.req))
			assert.JSONEq(t, tc.resp, asJSON(t, got))
			if tc.kind != "" {
				e := sink.next(t, tc.kind)
				assert.Equal(t, "123456789", e.Device.ID)
				assert.NotEmpty(t, e.ID)
				assert.JSONEq(t, string(vec(t, tc.req)), string(e.Raw), "the raw report travels with the event")
			}
		})
	}

	// Typed payloads of those events.
	dev, err := edge.Terminal("123456789")
	require.NoError(t, err)
	require.Len(t, dev.ElevatorStates(), 2)
	assert.Equal(t, stdproto.CarState{ElevatorID: "01", CurrentFloor: "9", CarState: 1, CarDirection: 2}, dev.ElevatorStates()[0])

	// /recognize: the source's field listing as a form.
	ct, body := multipartBody(t, [][2]string{{"token", exampleToken}, {"disableEdgeDetectFace", "1"}, {"temperature", "36.5"}},
		stdprototest.Photo("xxx"))
	got = post(t, edge, "/recognize", ct, body)
	assert.EqualValues(t, 0, got["code"])
	data := got["data"].(map[string]any)
	assert.Equal(t, "王小飞", data["name"])
	assert.Equal(t, "123456", data["userId"])
	assert.Equal(t, "123456", data["faceId"], "the Decider's person id is the faceId")
	assert.NotEmpty(t, data["photoId"])
	e := sink.next(t, accessctl.KindPass)
	assert.Equal(t, accessctl.MethodFace, e.Pass.Method)
	assert.Equal(t, accessctl.PassGranted, e.Pass.Kind)

	// /faceAC/passEvent.
	ct, body = multipartBody(t, [][2]string{{"token", exampleToken}, {"faceId", "ac4af1c2-31a7-4206-9c8d-2a69cdaac066"},
		{"similarity", "0.78654"}, {"temperature", "36.5"}}, stdprototest.Photo("xxx"))
	got = post(t, edge, "/faceAC/passEvent", ct, body)
	assert.EqualValues(t, 0, got["code"])
	assert.NotEmpty(t, got["data"].(map[string]any)["photoId"])
	e = sink.next(t, accessctl.KindPass)
	assert.Equal(t, "ac4af1c2-31a7-4206-9c8d-2a69cdaac066", e.Pass.Person.ID)
	assert.InDelta(t, 0.78654, *e.Pass.Similarity, 1e-9)
	assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
}

// TestTerminalAnswersSpecExamples posts every edge → terminal example,
// verbatim, to the device-side handler and compares the answers.
func TestTerminalAnswersSpecExamples(t *testing.T) {
	mem := stdprototest.NewMemory()
	h := stdproto.NewTerminalHandler(mem, stdproto.WithEdgeIP(exampleHost), stdproto.WithHandlerTokens(func(string, string) string { return exampleToken }, 0))
	js := "application/json"
	// The edge's /connect (here: the example's body; the terminal does not require its own sn).
	assert.JSONEq(t, string(vec(t, "B.6.1_connect_1.json")), asJSON(t, post(t, h, "/connect", js, vec(t, "B.6.1_connect_0.json"))))

	mem.SetCars([]stdproto.CarState{
		{ElevatorID: "01", CurrentFloor: "9", CarState: 1, CarDirection: 2},
		{ElevatorID: "02", CurrentFloor: "1", CarState: 0, CarDirection: 0},
	})
	var info struct{ Data stdproto.ElevatorInfo }
	require.NoError(t, json.Unmarshal(vec(t, "B.11.6_*_1.json"), &info))
	mem.SetElevatorInfo(info.Data)

	for _, tc := range []struct{ path, req, resp string }{
		{"/keepalive", "B.6.2_*_0.json", plainSuccess},
		{"/remoteOpen", "B.6.3_*_0.json", plainSuccess},
		{"/getKeepOpen", "B.6.6_*_0.json", string(vec(t, "B.6.6_*_1.json"))},
		{"/setKeepOpen", "B.6.5_*_0.json", plainSuccess},
		{"/setTempCheckRule", "B.6.7_*_0.json", plainSuccess},
		{"/cardAC/syncPermissions", "B.9.1_*_0.json", plainSuccess},
		{"/bleAC/syncPermissions", "B.9.3_*_0.json", plainSuccess},
		{"/visualIntercom/syncSipNumber", "B.10.1_*_0.json", plainSuccess},
		{"/visualIntercom/verifyPhoneResult", "B.10.4_*_0.json", plainSuccess},
		{"/elevator/getRunState", "B.11.2_*_0.json", string(vec(t, "B.11.2_*_1.json"))},
		{"/elevator/releaseFloors", "B.11.3_*_0.json", plainSuccess},
		{"/elevator/activateFloor", "B.11.4_*_0.json", plainSuccess},
		{"/elevator/call", "B.11.5_*_0.json", plainSuccess},
		{"/elevator/info/get", "B.11.6_*_0.json", string(vec(t, "B.11.6_*_1.json"))},
		{"/elevator/rule/sync", "B.11.7_*_0.json", string(vec(t, "B.11.7_*_1.json"))},
		{"/elevator/rule/setAvailability", "B.11.10_*_0.json", string(vec(t, "B.11.10_*_1.json"))},
		{"/elevator/rule/getAvailability", "B.11.11_*_0.json", string(vec(t, "B.11.11_*_1.json"))},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			assert.JSONEq(t, tc.resp, asJSON(t, post(t, h, tc.path, js, vec(t, tc.req))))
		})
	}
	// syncFaces (repaired vector), then queryFaces: the source's answer
	// lists faces 0001 and 0004 with exactly the hashes the sync carried.
	assert.JSONEq(t, plainSuccess, asJSON(t, post(t, h, "/faceAC/syncFaces", js, repairedSyncFaces(t))))
	got := post(t, h, "/faceAC/queryFaces", js, vec(t, "B.7.3_*_0.json"))
	var want struct{ Data struct{ FaceInfo [][]string } }
	require.NoError(t, json.Unmarshal(vec(t, "B.7.3_*_1.json"), &want))
	faceInfo := asJSON(t, got["data"].(map[string]any)["faceInfo"])
	for _, f := range want.Data.FaceInfo {
		assert.Contains(t, faceInfo, asJSON(t, f))
	}
	assert.EqualValues(t, 4, got["data"].(map[string]any)["total"], "0001–0004 after delete-all, adds, updates and a delete of an absent face")
	f3, _ := mem.Face("452f3570-4717-4a39-910b-d72542550003")
	assert.Equal(t, "李四", f3.UserName)
	assert.True(t, f3.Blacklisted)

	// rule/get with the example's "01" paging strings returns the synced rule.
	got = post(t, h, "/elevator/rule/get", js, vec(t, "B.11.8_*_0.json"))
	var wantRules struct {
		Data struct{ UserData []json.RawMessage }
	}
	require.NoError(t, json.Unmarshal(vec(t, "B.11.8_*_1.json"), &wantRules))
	assert.JSONEq(t, string(wantRules.Data.UserData[0]), asJSON(t, got["data"].(map[string]any)["userData"].([]any)[0]))

	// What the terminal now holds.
	assert.Equal(t, 1, mem.DoorOpens())
	assert.True(t, mem.KeepOpenState())
	rule, ok := mem.TempRule()
	require.True(t, ok)
	assert.Equal(t, stdproto.Text("37.5"), rule.MaxThreshold)
	card, ok := mem.Card("777342461")
	assert.True(t, ok, "add, delete, modify: modify re-inserts")
	assert.Equal(t, stdproto.Text("1905004800000"), card.ExpiryTime)
	_, ok = mem.BLECard("777342461")
	assert.True(t, ok)
	sip, ok := mem.Sip()
	require.True(t, ok)
	assert.Equal(t, "MNUtFSr9soldjp34IxYCBz", sip.SipNumber)
	assert.Equal(t, stdproto.Text("6050"), sip.SipServerPort)
	valid, ok := mem.PhoneVerdict("18012345678")
	assert.True(t, ok && valid)
	cmds := strings.Join(mem.Commands(), "\n")
	assert.Contains(t, cmds, "releaseFloors 01 [{9 901} {6 602}]", "room is read as roomNumber (C.B.30)")
	assert.Contains(t, cmds, "call 01 1->8", "targetFloor 8 as a number (C.B.32)")
	r, ok := mem.Rule("fa1a6-31a7-3**098")
	assert.True(t, ok, "a rule without type is an add (C.B.35)")
	assert.Equal(t, stdproto.ModeCallWithTarget, r.ControlMode)
}

// capture records the bodies a handler receives.
type capture struct {
	next   http.Handler
	mu     sync.Mutex
	bodies map[string][]byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if c.bodies == nil {
		c.bodies = map[string][]byte{}
	}
	c.bodies[r.URL.Path] = b
	c.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	c.next.ServeHTTP(w, r)
}

func (c *capture) body(path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.bodies[path])
}

// TestClientSendsExampleShapes checks that what we send has the shape of
// the source's examples (strict in what we send).
func TestClientSendsExampleShapes(t *testing.T) {
	mem := stdprototest.NewMemory()
	cap := &capture{next: stdproto.NewTerminalHandler(mem, stdproto.WithHandlerTokens(func(string, string) string { return exampleToken }, 0))}
	srv := httptest.NewServer(cap)
	defer srv.Close()
	c := stdproto.NewClient(srv.Listener.Addr().String(), stdproto.Identity{SN: "edge-1", MAC: "00-16-EA-AE-3D-40"}, nil)
	ctx := ctxT(t)

	require.NoError(t, c.RemoteOpen(ctx))
	assert.JSONEq(t, string(vec(t, "B.6.3_*_0.json")), cap.body("/remoteOpen"))
	require.NoError(t, c.SetKeepOpen(ctx, true))
	assert.JSONEq(t, string(vec(t, "B.6.5_*_0.json")), cap.body("/setKeepOpen"))
	on, err := c.KeepOpen(ctx)
	require.NoError(t, err)
	assert.True(t, on)
	assert.JSONEq(t, string(vec(t, "B.6.6_*_0.json")), cap.body("/getKeepOpen"))
	require.NoError(t, c.SetTempCheckRule(ctx, stdproto.TempRule{IsCheck: 1, MaxThreshold: "37.5", MinThreshold: "36.5"}))
	assert.JSONEq(t, string(vec(t, "B.6.7_*_0.json")), cap.body("/setTempCheckRule"))

	perms := []stdproto.Permission{
		{Type: 1, CardID: "777342461", EffectiveTime: "1589472000000", ExpiryTime: "1905004800000"},
		{Type: 2, CardID: "777342461", EffectiveTime: "1589472000000", ExpiryTime: "1905004800000"},
		{Type: 3, CardID: "777342461", EffectiveTime: "1589472000000", ExpiryTime: "1905004800000"},
	}
	res, err := c.SyncCards(ctx, perms)
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.JSONEq(t, string(vec(t, "B.9.1_*_0.json")), cap.body("/cardAC/syncPermissions"))
	_, err = c.SyncBLECards(ctx, perms)
	require.NoError(t, err)
	assert.JSONEq(t, string(vec(t, "B.9.3_*_0.json")), cap.body("/bleAC/syncPermissions"))

	require.NoError(t, c.SyncSipNumber(ctx, stdproto.SipNumberRequest{SipNumber: "MNUtFSr9soldjp34IxYCBz", Password: "******", SipServerAddr: "47.103.XX.XXX", SipServerPort: "6050"}))
	assert.JSONEq(t, string(vec(t, "B.10.1_*_0.json")), cap.body("/visualIntercom/syncSipNumber"))
	require.NoError(t, c.VerifyPhoneResult(ctx, "18012345678", true))
	assert.JSONEq(t, string(vec(t, "B.10.4_*_0.json")), cap.body("/visualIntercom/verifyPhoneResult"))

	require.NoError(t, c.ReleaseFloors(ctx, stdproto.ReleaseFloorsRequest{ElevatorID: "01", FloorRoomList: []stdproto.FloorRoom{{Floor: "9", RoomNumber: "901"}, {Floor: "6", RoomNumber: "602"}}}))
	assert.JSONEq(t, string(vec(t, "B.11.3_*_0.json")), cap.body("/elevator/releaseFloors"), "releaseFloors sends room (C.B.30)")
	require.NoError(t, c.ActivateFloor(ctx, stdproto.ActivateFloorRequest{ElevatorID: "01", FloorRoomList: []stdproto.FloorRoom{{Floor: "9", RoomNumber: "901"}, {Floor: "6", RoomNumber: "602"}}}))
	assert.JSONEq(t, string(vec(t, "B.11.4_*_0.json")), cap.body("/elevator/activateFloor"))
	require.NoError(t, c.CallElevator(ctx, stdproto.CallRequest{ElevatorID: "01", StartFloor: "1", StartRoom: "01", TargetFloor: "8", TargetRoom: "02"}))
	// The example's number 8 is sent as the string the table types (C.B.32).
	assert.JSONEq(t, strings.Replace(string(vec(t, "B.11.5_*_0.json")), `"targetFloor": 8`, `"targetFloor": "8"`, 1), cap.body("/elevator/call"))
	_, err = c.ElevatorInfo(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, string(vec(t, "B.11.6_*_0.json")), cap.body("/elevator/info/get"))
	require.NoError(t, c.SetRuleAvailability(ctx, true))
	assert.JSONEq(t, string(vec(t, "B.11.10_*_0.json")), cap.body("/elevator/rule/setAvailability"))
	avail, err := c.RuleAvailability(ctx)
	require.NoError(t, err)
	assert.True(t, avail)
	assert.JSONEq(t, string(vec(t, "B.11.11_*_0.json")), cap.body("/elevator/rule/getAvailability"))
	_, err = c.QueryFaces(ctx, 1, 200)
	require.NoError(t, err)
	assert.JSONEq(t, string(vec(t, "B.7.3_*_0.json")), cap.body("/faceAC/queryFaces"))

	// getRunState: the ids under both keys (C.B.29).
	cars, err := c.GetRunState(ctx, "01", "02")
	require.NoError(t, err)
	assert.NotNil(t, cars)
	var sent map[string]any
	require.NoError(t, json.Unmarshal([]byte(cap.body("/elevator/getRunState")), &sent))
	assert.Equal(t, []any{"01", "02"}, sent["data"])
	assert.Equal(t, []any{"01", "02"}, sent["elevatorList"])

	// rule/sync: the example plus the type a sender always includes (C.B.35).
	var rs stdproto.RuleSyncRequest
	require.NoError(t, json.Unmarshal(vec(t, "B.11.7_*_0.json"), &rs))
	_, err = c.SyncRules(ctx, rs.Rules)
	require.NoError(t, err)
	wantRules := strings.Replace(string(vec(t, "B.11.7_*_0.json")), `"ruleId"`, `"type": 1, "ruleId"`, 1)
	assert.JSONEq(t, wantRules, cap.body("/elevator/rule/sync"))
}

// TestAgentSendsExampleShapes checks the terminal side against the
// terminal → edge examples.
func TestAgentSendsExampleShapes(t *testing.T) {
	edge, sink, _ := exampleEdgeFrom(t, "127.0.0.1")
	cap := &capture{next: edge}
	srv := httptest.NewServer(cap)
	defer srv.Close()
	a, err := stdproto.StartAgent(stdproto.AgentConfig{Edge: srv.Listener.Addr().String(),
		Identity: stdproto.Identity{SN: "123456789", IP: "192.168.1.128", MAC: "00-16-EA-AE-3D-40", Keepalive: 30e9}})
	require.NoError(t, err)
	defer a.Close()
	ctx := ctxT(t)
	require.NoError(t, a.WaitConnected(ctx))
	var conn map[string]any
	require.NoError(t, json.Unmarshal([]byte(cap.body("/connect")), &conn))
	assert.Equal(t, "md5", conn["signMethod"])
	assert.EqualValues(t, 30, conn["keepalive"])

	require.NoError(t, a.PassCard(ctx, "777342461"))
	assert.JSONEq(t, string(vec(t, "B.9.2_*_0.json")), cap.body("/cardAC/passEvent"))
	require.NoError(t, a.PassBLE(ctx, "777342461"))
	assert.JSONEq(t, string(vec(t, "B.9.4_*_0.json")), cap.body("/bleAC/passEvent"))
	require.NoError(t, a.Alarm(ctx, stdproto.AlarmInvalidCard, "777342461"))
	assert.JSONEq(t, string(vec(t, "B.6.4_*_0.json")), cap.body("/alarmEvent"))
	uid, err := a.QRCode(ctx, "ALI1234567890azxswdfghggfgsgERTG")
	require.NoError(t, err)
	assert.Equal(t, "123456", uid)
	assert.JSONEq(t, string(vec(t, "B.8.1_*_0.json")), cap.body("/qrcode"))
	gid, err := a.GroupID(ctx, "1-9-3-1202")
	require.NoError(t, err)
	assert.Equal(t, "4sewsEXT8ezMnlHlbWkjbL", gid, "read from the top level (C.B.23)")
	assert.JSONEq(t, string(vec(t, "B.10.2_*_0.json")), cap.body("/visualIntercom/getGroupId"))
	require.NoError(t, a.CheckPhone(ctx, "18012345678"))
	assert.JSONEq(t, string(vec(t, "B.10.3_*_0.json")), cap.body("/visualIntercom/checkPhoneNumber"))
	typ := stdproto.Int(0)
	require.NoError(t, a.ReportOpenDoor(ctx, stdproto.OpenDoorReport{Type: &typ, Number: "MNUtFSr9soldjp34IxYCBz", RoomID: "1-9-3-1202"}))
	assert.JSONEq(t, string(vec(t, "B.10.5_*_0.json")), cap.body("/visualIntercom/reportOpenDoor"))
	var rs stdproto.RunStateReport
	require.NoError(t, json.Unmarshal(vec(t, "B.11.1_*_0.json"), &rs))
	require.NoError(t, a.ReportRunState(ctx, rs.Data))
	assert.JSONEq(t, string(vec(t, "B.11.1_*_0.json")), cap.body("/elevator/reportRunState"))
	var rr stdproto.RuleReport
	require.NoError(t, json.Unmarshal(vec(t, "B.11.9_*_0.json"), &rr))
	require.NoError(t, a.ReportRule(ctx, rr))
	assert.JSONEq(t, string(vec(t, "B.11.9_*_0.json")), cap.body("/elevator/rule/report"))

	// Denied QR: code 1, a typed rejection, and a denied pass on the sink.
	_, err = a.QRCode(ctx, "ALI0000000000000000000000000000X")
	var ce *stdproto.CodeError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, stdproto.CodeAuthFailed, ce.Code)
	assert.ErrorIs(t, err, accessctl.ErrRejected)
	for {
		e := sink.next(t, accessctl.KindPass)
		if e.Pass.Kind == accessctl.PassDenied {
			assert.Equal(t, accessctl.MethodQRCode, e.Pass.Method)
			break
		}
	}
}

func TestDecodeResponseRepairsSourceExamples(t *testing.T) {
	r, err := stdproto.DecodeResponse(vec(t, "B.11.9_*_1.txt"))
	require.NoError(t, err, "trailing comma (C.B.37)")
	assert.EqualValues(t, 0, r.Code)
	assert.Equal(t, "success", r.Message)

	// The syncFaces example as printed is not JSON ("..."): refused as a
	// bad request, not a panic; repaired it decodes.
	_, err = stdproto.Decode[stdproto.SyncFacesRequest](vec(t, "B.7.2_*_0.txt"))
	assert.ErrorIs(t, err, stdproto.ErrBadRequest)
	req, err := stdproto.Decode[stdproto.SyncFacesRequest](repairedSyncFaces(t))
	require.NoError(t, err)
	require.Len(t, req.Faces, 6)
	assert.EqualValues(t, stdproto.FaceDeleteAll, req.Faces[0].Type)
	assert.Len(t, req.Faces[1].Feature, 2)

	// Elevator examples with the source's type drift.
	g, err := stdproto.Decode[stdproto.RuleGetRequest](vec(t, "B.11.8_*_0.json"))
	require.NoError(t, err)
	assert.EqualValues(t, 1, *g.CurrentPage, `"01" is page 1`)
	c, err := stdproto.Decode[stdproto.CallRequest](vec(t, "B.11.5_*_0.json"))
	require.NoError(t, err)
	assert.Equal(t, stdproto.Text("8"), c.TargetFloor)
	rs, err := stdproto.Decode[stdproto.GetRunStateRequest](vec(t, "B.11.2_*_0.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"01", "02"}, rs.IDs())
	var info struct{ Data stdproto.ElevatorInfo }
	require.NoError(t, json.Unmarshal(vec(t, "B.11.6_*_1.json"), &info))
	assert.Equal(t, stdproto.RoomList{"501", "502"}, info.Data.FloorInfoList[0].FloorInfo[0].RoomList)
	// The table's object forms (C.B.34, C.B.10).
	require.NoError(t, json.Unmarshal([]byte(`{"elevatorMode":"GROUP","floorInfoList":[{"isDualCardDoor":"True","floorInfo":{"floor":"5","roomList":[{"roomNumber":"501"}]}}]}`), &info.Data))
	assert.Equal(t, stdproto.RoomList{"501"}, info.Data.FloorInfoList[0].FloorInfo[0].RoomList)
	assert.True(t, bool(info.Data.FloorInfoList[0].IsDualCardDoor))
	k, err := stdproto.Decode[stdproto.SetKeepOpenRequest]([]byte(`{"token":"t","data":[{"keepOpen":1}]}`))
	require.NoError(t, err, "data as the table's array")
	require.NotNil(t, k.Data)
}
