package hciot_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

// HC's own app (spec_cd 3003001 / 3004001) from seed 000.
const (
	hcAppID        = "992020051967020024"
	hcSecurityCode = "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT"
)

// The three vectors of accessctl/PLATFORMS.md §1.4.
var signVectors = []struct {
	name, txID, reqTime, payload, sign string
}{
	{"heartbeat body", "c0a4028a-52bf-4619-8786-1f0313e4d2f6", "20201227103000",
		`{"extCommunityId":"702020042194860039","heartbeatTime":"2020-05-10 19:43:34","machineCode":"101010","taskId":"702020042194860037"}`,
		"7c8f1f8b8368606415746996ba03b0ba"},
	{"open-door body", "100000000020231015142359000001", "20231015142359",
		`{"dateTime":"2020-12-27 00:00:00","extCommunityId":"702020042194860039","machineCode":"101010","openTypeCd":"1000","photo":"","recordTypeCd":"8888","similar":"100","userId":"702020042194860037","userName":"张三"}`,
		"d33146b5f6689f5ec8e0f498d59003c4"},
	{"GET query", "c0a4028a-52bf-4619-8786-1f0313e4d2f6", "20200519115539",
		`?communityId=702020042194860039&name=老九学堂`,
		"6fb38168b3d0b1ef8b3c6cba8493db52"},
}

func TestSignVectors(t *testing.T) {
	for _, v := range signVectors {
		t.Run(v.name, func(t *testing.T) {
			assert.Equal(t, v.sign, hciot.Sign(v.txID, v.reqTime, hcAppID, []byte(v.payload), hcSecurityCode))
			assert.True(t, hciot.VerifySign(v.sign, v.txID, v.reqTime, hcAppID, []byte(v.payload), hcSecurityCode))
			assert.True(t, hciot.VerifySign(string(bytes.ToUpper([]byte(v.sign))), v.txID, v.reqTime, hcAppID, []byte(v.payload), hcSecurityCode), "HC lower-cases the sign")
			assert.False(t, hciot.VerifySign(v.sign, v.txID, v.reqTime, hcAppID, []byte(v.payload+" "), hcSecurityCode))
		})
	}
	assert.Equal(t, 130, len(signVectors[0].payload), "the spec's body is 130 bytes")
}

func TestParseHeadersHyphenWins(t *testing.T) {
	h := http.Header{}
	h.Set("app_id", "underscore")
	h.Set("app-id", "hyphen")
	h.Set("transaction_id", "tx")
	got := hciot.ParseHeaders(h)
	assert.Equal(t, "hyphen", got.AppID)
	assert.Equal(t, "tx", got.TransactionID)
}

type uploadFixture struct {
	hc     *hciottest.Platform
	up     *hciot.Uploader
	alerts []error
	mu     sync.Mutex
}

func newUploadFixture(t *testing.T, opts ...hciot.UploaderOption) *uploadFixture {
	f := &uploadFixture{hc: hciottest.NewPlatform(hcAppID, hcSecurityCode)}
	t.Cleanup(f.hc.Close)
	base := []hciot.UploaderOption{
		hciot.WithOpenDoorURL(f.hc.OpenDoorURL()),
		hciot.WithCommandResultURL(f.hc.CmdResultURL()),
		hciot.WithHeartbeatURL(f.hc.HeartbeatURL()),
		hciot.WithAlert(func(err error) { f.mu.Lock(); f.alerts = append(f.alerts, err); f.mu.Unlock() }),
		hciot.WithUploaderClock(func() time.Time { return time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC) }),
	}
	f.up = hciot.NewUploader(hcAppID, hcSecurityCode, append(base, opts...)...)
	return f
}

func (f *uploadFixture) alertCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.alerts)
}

func passEvent() accessctl.Event {
	sim := 0.93
	at := time.Date(2026, 11, 23, 2, 29, 58, 0, time.UTC)
	return accessctl.Event{
		ID: "ev-1", Kind: accessctl.KindPass,
		Site:       accessctl.SiteRef{Platform: "hc", ID: community},
		Device:     accessctl.DeviceRef{ID: "101010"},
		OccurredAt: at, ReceivedAt: at.Add(time.Second),
		Pass: &accessctl.PassEvent{
			Person: &accessctl.PersonRef{ID: "702020042194860037"}, PersonName: "张三", Phone: "13800000001",
			Method: accessctl.MethodFace, Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true},
			Similarity: &sim, Snapshot: &accessctl.Image{Data: hciottest.FaceJPEG, MIME: "image/jpeg"},
		},
	}
}

// independentSign recomputes HC's sign with nothing from package hciot.
func independentSign(u hciottest.Upload) string {
	sum := md5.Sum([]byte(u.TransactionID + u.ReqTime + u.AppID + string(u.Raw) + hcSecurityCode))
	return hex.EncodeToString(sum[:])
}

func TestUploadsAreSignedAndShaped(t *testing.T) {
	f := newUploadFixture(t)
	c := ctx(t)
	require.NoError(t, f.up.Handle(c, passEvent()))
	require.NoError(t, f.up.Handle(c, accessctl.Event{ID: "cr", Kind: accessctl.KindCommandResult, Device: accessctl.DeviceRef{ID: "101010"},
		Command: &accessctl.CommandResult{Command: "addUser", CorrelationID: "702020112300000100", OK: true}}))
	require.NoError(t, f.up.Handle(c, accessctl.Event{ID: "cr2", Kind: accessctl.KindCommandResult,
		Command: &accessctl.CommandResult{Command: "openDoor", CorrelationID: "t-2", Code: "-1", Message: "device offline"}}))
	require.NoError(t, f.up.Handle(c, accessctl.Event{ID: "hb", Kind: accessctl.KindHeartbeat, Site: accessctl.SiteRef{ID: community},
		Device: accessctl.DeviceRef{ID: "101010"}, ReceivedAt: time.Date(2026, 11, 23, 2, 29, 0, 0, time.UTC)}))

	ups := f.hc.Uploads()
	require.Len(t, ups, 4)
	for _, u := range ups {
		assert.Equal(t, independentSign(u), u.Sign, "sign of %s", u.Path)
		assert.Equal(t, hcAppID, u.AppID)
		assert.Equal(t, "-1", u.UserID)
		assert.Equal(t, "20261123103000", u.ReqTime, "24-hour China time")
		assert.Regexp(t, `^100000000020261123103000\d{6}$`, u.TransactionID)
		assert.Equal(t, "application/json", u.Header.Get("Content-Type"))
	}
	pass := ups[0]
	assert.Equal(t, hciottest.OpenDoorLogPath, pass.Path)
	assert.Equal(t, map[string]any{
		"userId": "702020042194860037", "userName": "张三", "machineCode": "101010", "openTypeCd": "1000",
		"similar": "93", "photo": "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==", "dateTime": "2026-11-23 10:29:58",
		"extCommunityId": community, "recordTypeCd": "8888", "tel": "13800000001",
	}, pass.Body)
	assert.Equal(t, byte('{'), pass.Raw[0])
	assert.Contains(t, string(pass.Raw), `"dateTime":"2026-11-23 10:29:58","extCommunityId"`, "keys sorted like fastjson")

	assert.Equal(t, map[string]any{"taskId": "702020112300000100", "code": float64(0), "msg": "成功", "machineCode": "101010"}, ups[1].Body)
	assert.Equal(t, map[string]any{"taskId": "t-2", "code": float64(-1), "msg": "device offline"}, ups[2].Body)
	assert.Equal(t, hciottest.HeartbeatPath, ups[3].Path)
	assert.Equal(t, "2026-11-23 10:29:00", ups[3].Field("heartbeatTime"))
	assert.Equal(t, community, ups[3].Field("extCommunityId"))
	assert.NotEmpty(t, ups[3].Field("taskId"))
	assert.Equal(t, uint64(4), f.up.Stats().Uploaded)
}

func TestUploadStrangerAndMachineLookup(t *testing.T) {
	f := newFixture(t)
	f.setup(t, gate)
	u := newUploadFixture(t, hciot.WithMachines(f.srv), hciot.WithSimilarityScale(1))
	e := passEvent()
	e.Site = accessctl.SiteRef{}
	e.Pass.Person, e.Pass.PersonName, e.Pass.Kind, e.Pass.Method = nil, "", accessctl.PassDenied, accessctl.MethodCard
	require.NoError(t, u.up.Handle(ctx(t), e))
	up := u.hc.Uploads()[0]
	assert.Equal(t, "-1", up.Field("userId"))
	assert.Equal(t, "陌生人", up.Field("userName"))
	assert.Equal(t, "6666", up.Field("recordTypeCd"))
	assert.Equal(t, "2000", up.Field("openTypeCd"))
	assert.Equal(t, "0.93", up.Field("similar"))
	assert.Equal(t, community, up.Field("extCommunityId"), "from the machine HC registered")

	// A terminal that reports only the id: the name comes from the ledger.
	f.ok(t, "/extApi/user/addUser", hciottest.AddUser(residents[0], gate, f.clock.Now(), "n1"))
	e.ID, e.Pass.Person, e.Pass.Kind = "ev-2", &accessctl.PersonRef{ID: residents[0].ID}, accessctl.PassGranted
	require.NoError(t, u.up.Handle(ctx(t), e))
	assert.Equal(t, residents[0].Name, u.hc.Uploads()[1].Field("userName"))

	e.ID, e.Device.ID = "ev-3", "unregistered"
	err := u.up.Handle(ctx(t), e)
	assert.True(t, accessctl.IsPermanent(err))
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

// A body changed after signing is refused by the test HC, which checks the
// sign with its own MD5 code: permanent, and the alert fires.
func TestTamperedBodyIsRefused(t *testing.T) {
	for _, style := range []hciottest.GatewayStyle{hciottest.Gateway2021, hciottest.Gateway2025} {
		f := newUploadFixture(t, hciot.WithHTTPClient(&http.Client{Transport: tamper{}}))
		f.hc.SetStyle(style)
		err := f.up.Handle(ctx(t), passEvent())
		require.Error(t, err)
		assert.True(t, accessctl.IsPermanent(err))
		assert.ErrorIs(t, err, hciot.ErrUploadAuth)
		assert.Contains(t, err.Error(), "签名失败")
		assert.Equal(t, []string{"鉴权失败：签名失败"}, f.hc.Refused())
		assert.Empty(t, f.hc.Uploads())
		assert.Equal(t, 1, f.alertCount())
	}
}

// tamper changes one byte of the body after the uploader signed it.
type tamper struct{}

func (tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte("张三"), []byte("李四"), 1)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.ContentLength = int64(len(b))
	return http.DefaultTransport.RoundTrip(r2)
}

func TestWrongCredentials(t *testing.T) {
	f := newUploadFixture(t)
	bad := hciot.NewUploader("someone-else", hcSecurityCode, hciot.WithOpenDoorURL(f.hc.OpenDoorURL()))
	err := bad.Handle(ctx(t), passEvent())
	assert.ErrorIs(t, err, hciot.ErrUploadAuth)
	assert.Contains(t, err.Error(), "HTTP 400")
	bad = hciot.NewUploader(hcAppID, "wrong-code", hciot.WithOpenDoorURL(f.hc.OpenDoorURL()))
	err = bad.Handle(ctx(t), passEvent())
	assert.ErrorIs(t, err, hciot.ErrUploadAuth)
	assert.Equal(t, uint64(1), bad.Stats().AuthErrors)
}

func TestClassifyAnswers(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		kind      error
		permanent bool
	}{
		{"success", 200, `{"code":0,"msg":"成功"}`, nil, false},
		{"success code as string", 200, `{"code":"0","msg":"成功"}`, nil, false},
		{"2021 auth plain text", 401, `鉴权失败：签名失败`, hciot.ErrUploadAuth, true},
		{"2021 unknown app", 400, `初始化失败：APP_ID 为空或不正确`, hciot.ErrUploadAuth, true},
		{"2025 auth JSON", 200, `{"code":404,"msg":"鉴权失败：签名失败"}`, hciot.ErrUploadAuth, true},
		{"business error", 200, `{"code":-1,"msg":"设备不存在"}`, hciot.ErrUploadRejected, true},
		{"HC ResultVo 404 business", 200, `{"code":404,"msg":"未包含用户信息"}`, hciot.ErrUploadRejected, true},
		{"bad gateway", 502, `<html>Bad Gateway</html>`, hciot.ErrUploadTransient, false},
		{"proxy HTML with 200", 200, `<html>maintenance</html>`, hciot.ErrUploadTransient, false},
		{"empty 200", 200, ``, hciot.ErrUploadTransient, false},
		{"JSON without code", 200, `{"msg":"?"}`, hciot.ErrUploadTransient, false},
		{"rate limited", 429, ``, hciot.ErrUploadTransient, false},
		{"wrong URL", 404, `not found`, hciot.ErrUploadAuth, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			var alerted bool
			up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(srv.URL), hciot.WithAlert(func(error) { alerted = true }))
			err := up.Handle(ctx(t), passEvent())
			if tc.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.kind)
			assert.Equal(t, tc.permanent, accessctl.IsPermanent(err))
			assert.Equal(t, tc.kind == hciot.ErrUploadAuth, alerted)
		})
	}
}

func TestTransportErrorIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithHeartbeatURL(url+"/hb"))
	err := up.Handle(ctx(t), accessctl.Event{Kind: accessctl.KindHeartbeat, Site: accessctl.SiteRef{ID: "c"}, Device: accessctl.DeviceRef{ID: "d"}})
	require.ErrorIs(t, err, hciot.ErrUploadTransient)
	assert.False(t, accessctl.IsPermanent(err))
}

// A redelivered event (same id) is not uploaded twice: HC would store two
// rows. A failed upload is not remembered, so its retry goes out.
func TestRedeliveryIsNotUploadedTwice(t *testing.T) {
	f := newUploadFixture(t)
	e := passEvent()
	f.hc.FailNext(502, "")
	require.ErrorIs(t, f.up.Handle(ctx(t), e), hciot.ErrUploadTransient)
	require.NoError(t, f.up.Handle(ctx(t), e))
	require.NoError(t, f.up.Handle(ctx(t), e))
	assert.Len(t, f.hc.Uploads(), 1)
	assert.Equal(t, uint64(1), f.up.Stats().Duplicates)
	e.ID = "ev-2"
	require.NoError(t, f.up.Handle(ctx(t), e))
	assert.Len(t, f.hc.Uploads(), 2)

	off := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(f.hc.OpenDoorURL()), hciot.WithDedupSize(0))
	require.NoError(t, off.Handle(ctx(t), e))
	assert.Len(t, f.hc.Uploads(), 3)
}

// No URL for a kind: accepted and not uploaded, on purpose, and counted.
func TestAbsentURLSkips(t *testing.T) {
	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode)
	defer hc.Close()
	up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithHeartbeatURL(hc.HeartbeatURL()))
	c := ctx(t)
	require.NoError(t, up.Handle(c, passEvent()))
	require.NoError(t, up.Handle(c, accessctl.Event{Kind: accessctl.KindCommandResult, Command: &accessctl.CommandResult{CorrelationID: "x", OK: true}}))
	require.NoError(t, up.Handle(c, accessctl.Event{Kind: accessctl.KindAlarm, Alarm: &accessctl.Alarm{Type: "tamper"}}))
	assert.Empty(t, hc.Uploads())
	assert.Equal(t, uint64(3), up.Stats().Skipped)

	photoless := passEvent()
	photoless.Pass.Snapshot = nil
	strict := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(hc.OpenDoorURL()), hciot.WithPhotoRequired(true))
	require.NoError(t, strict.Handle(c, photoless))
	assert.Equal(t, uint64(1), strict.Stats().Skipped)
	assert.Empty(t, hc.Uploads())
}

// Behind accessctl.NewBuffer, a transient failure is retried until HC
// takes the record; a permanent one is given up at once and reported.
func TestRetriedByBuffer(t *testing.T) {
	f := newUploadFixture(t)
	f.hc.FailNext(502, "<html>bad gateway</html>")
	f.hc.FailNext(200, "<html>maintenance</html>")
	var mu sync.Mutex
	var errs []error
	buf := accessctl.NewBuffer(f.up, accessctl.WithOnError(func(_ accessctl.Event, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}))
	require.NoError(t, buf.Handle(ctx(t), passEvent()))
	require.True(t, f.hc.Wait(1, 5*time.Second))
	bad := passEvent()
	bad.Device.ID, bad.Site.ID = "", ""
	require.NoError(t, buf.Handle(ctx(t), bad))
	require.NoError(t, buf.Close(ctx(t)))
	st := buf.Stats()
	assert.Equal(t, uint64(1), st.Delivered)
	assert.Equal(t, uint64(2), st.Retried)
	assert.Equal(t, uint64(1), st.Failed)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, errs, 3)
	assert.True(t, errors.Is(errs[0], hciot.ErrUploadTransient))
	assert.True(t, accessctl.IsPermanent(errs[2]))
}

// The server's command results go out on 3002001 with HC's taskId.
func TestCommandResultsReachHC(t *testing.T) {
	u := newUploadFixture(t)
	f := newFixture(t, hciot.WithSink(u.up))
	f.setup(t, gate)
	f.ok(t, "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "702020112300000900"))
	var found bool
	for _, up := range u.hc.UploadsTo(hciottest.CmdResultPath) {
		if up.Field("taskId") == "702020112300000900" {
			found = true
			assert.Equal(t, "0", up.Field("code"))
			assert.Equal(t, gate.Code, up.Field("machineCode"))
		}
	}
	assert.True(t, found)
}

func BenchmarkSign(b *testing.B) {
	v := signVectors[1]
	payload := []byte(v.payload)
	b.ReportAllocs()
	for b.Loop() {
		_ = hciot.Sign(v.txID, v.reqTime, hcAppID, payload, hcSecurityCode)
	}
}

// BenchmarkSignBaseline is the same MD5 written the obvious way.
func BenchmarkSignBaseline(b *testing.B) {
	v := signVectors[1]
	b.ReportAllocs()
	for b.Loop() {
		sum := md5.Sum([]byte(v.txID + v.reqTime + hcAppID + v.payload + hcSecurityCode))
		_ = hex.EncodeToString(sum[:])
	}
}

func okServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"code":0,"msg":"成功"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUploadPass is one signed pass-record upload over loopback.
func BenchmarkUploadPass(b *testing.B) {
	srv := okServer(b)
	// No de-duplication: the same event goes out every time.
	up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(srv.URL), hciot.WithHTTPClient(srv.Client()), hciot.WithDedupSize(0))
	e := passEvent()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := up.Handle(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if up.Stats().Uploaded != uint64(b.N) {
		b.Fatalf("uploaded %d of %d", up.Stats().Uploaded, b.N)
	}
}

// BenchmarkUploadPassRaw posts a prepared body with the same client: the
// cost of HTTP alone.
func BenchmarkUploadPassRaw(b *testing.B) {
	srv := okServer(b)
	client := srv.Client()
	body := []byte(signVectors[1].payload)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
