package adminapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/adminapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// jpeg is the base64 of a real 4×4 JPEG photo.
var jpeg = func() string {
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}()

// pngB64 is the base64 of a real 2×2 PNG.
func pngB64(t *testing.T) string {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))))
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

var seedUser = `{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"1","img":"` + jpeg + `"}`

// bare is a Device without any optional capability; its door blocks until
// the call's context ends.
type bare struct{ id string }

func (b bare) ID() string { return b.id }
func (b bare) Status(context.Context) (accessctl.Status, error) {
	return accessctl.Status{Online: true}, nil
}
func (b bare) Close() error { return nil }
func (b bare) OpenDoor(ctx context.Context, _ accessctl.OpenRequest) error {
	<-ctx.Done()
	return ctx.Err()
}

// commander answers user commands with a canned reply and records them.
type commander struct {
	bare
	answer json.RawMessage
	err    error
	got    []string
}

func (c *commander) UserCommand(_ context.Context, op string, user json.RawMessage) (json.RawMessage, error) {
	c.got = append(c.got, op+" "+string(user))
	return c.answer, c.err
}

type env struct {
	fake, off *accessctltest.FakeDevice
	cmd       *commander
	api       *httptest.Server
}

func newEnv(t *testing.T, opts ...adminapi.Option) *env {
	e := &env{fake: accessctltest.NewFakeDevice("F-1", nil), off: accessctltest.NewFakeDevice("F-0", nil),
		cmd: &commander{bare: bare{"C-1"}}}
	require.NoError(t, e.off.SetOnline(context.Background(), false))
	h, err := adminapi.New(adminapi.FleetOf("fake", e.fake, e.off, e.cmd, bare{"B-1"}), opts...)
	require.NoError(t, err)
	e.api = httptest.NewServer(h)
	t.Cleanup(e.api.Close)
	return e
}

func (e *env) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := e.api.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK && strings.HasPrefix(path, "/devices/") {
		assert.Contains(t, string(b), `"error":`, "every failure of a device route says why")
	}
	return resp.StatusCode, string(b)
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	code, body := e.call(t, "GET", "/devices", "")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `[
		{"sn":"B-1","ip":"","mac":"","type":"fake","online":true},
		{"sn":"C-1","ip":"","mac":"","type":"fake","online":true},
		{"sn":"F-0","ip":"","mac":"","type":"fake","online":false},
		{"sn":"F-1","ip":"","mac":"","type":"fake","online":true}]`, body)

	h, err := adminapi.New(adminapi.FleetOf("none"))
	require.NoError(t, err)
	empty := httptest.NewServer(h)
	defer empty.Close()
	resp, err := http.Get(empty.URL + "/devices")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "[]\n", string(b))
}

// TestRoutes drives every route against the fake: statuses and bodies of
// the contract, one row each.
func TestRoutes(t *testing.T) {
	rejected := accessctl.Rejected("addUser", "5", "library full")
	for _, tc := range []struct {
		name, method, path, body string
		fail                     error // the fake's next call fails so
		code                     int
		want                     string // JSONEq when set
	}{
		{name: "add", method: "POST", path: "/devices/F-1/users", body: seedUser, code: 200, want: `{"code":0,"message":"success"}`},
		{name: "add numeric id", method: "POST", path: "/devices/F-1/users", body: `{"userId":12384865,"name":null}`, code: 200},
		{name: "add bad JSON", method: "POST", path: "/devices/F-1/users", body: `{"userId":`, code: 400},
		{name: "add array", method: "POST", path: "/devices/F-1/users", body: `[]`, code: 400},
		{name: "add no id", method: "POST", path: "/devices/F-1/users", body: `{"name":"no id"}`, code: 400},
		{name: "add object id", method: "POST", path: "/devices/F-1/users", body: `{"userId":{}}`, code: 400},
		{name: "add bool id", method: "POST", path: "/devices/F-1/users", body: `{"userId":true}`, code: 400},
		{name: "add bad img", method: "POST", path: "/devices/F-1/users", body: `{"userId":"1","img":"!!!"}`, code: 400},
		{name: "add empty body", method: "POST", path: "/devices/F-1/users", code: 400},
		{name: "add unknown", method: "POST", path: "/devices/NOPE/users", body: seedUser, code: 404},
		{name: "add offline", method: "POST", path: "/devices/F-0/users", body: seedUser, code: 404},
		{name: "add timeout", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: fmt.Errorf("late: %w", accessctl.ErrTimeout), code: 504},
		{name: "add refused", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: rejected, code: 200, want: `{"code":5,"message":"library full"}`},
		{name: "add refused, text code", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: accessctl.Rejected("addUser", "E7", ""), code: 200, want: `{"code":"E7","message":""}`},
		{name: "add unsupported", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: accessctl.ErrUnsupported, code: 501},
		{name: "add device says invalid", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: accessctl.ErrInvalid, code: 400},
		{name: "add other error", method: "POST", path: "/devices/F-1/users", body: seedUser, fail: errors.New("boom"), code: 502},
		{name: "add without PermissionSync", method: "POST", path: "/devices/B-1/users", body: seedUser, code: 501},
		{name: "edit id mismatch", method: "PUT", path: "/devices/F-1/users/2", body: `{"userId":"3"}`, code: 400},
		{name: "edit absent creates", method: "PUT", path: "/devices/F-1/users/9", body: `{"name":"new"}`, code: 200, want: `{"code":0,"message":"success"}`},
		{name: "edit offline", method: "PUT", path: "/devices/F-0/users/9", body: `{"name":"x"}`, code: 404},
		{name: "delete", method: "DELETE", path: "/devices/F-1/users/12384865", code: 200, want: `{"code":0,"message":"success"}`},
		{name: "delete timeout", method: "DELETE", path: "/devices/F-1/users/1", fail: accessctl.ErrTimeout, code: 504},
		{name: "delete without PermissionSync", method: "DELETE", path: "/devices/B-1/users/1", code: 501},
		{name: "get absent", method: "GET", path: "/devices/F-1/users?userId=404", code: 200, want: `[]`},
		{name: "get all, empty", method: "GET", path: "/devices/F-1/users", code: 200, want: `[]`},
		{name: "get unknown", method: "GET", path: "/devices/NOPE/users?userId=1", code: 404},
		{name: "get offline", method: "GET", path: "/devices/F-0/users", code: 404},
		{name: "get without GrantGetter", method: "GET", path: "/devices/B-1/users?userId=1", code: 501},
		{name: "get without GrantLister", method: "GET", path: "/devices/B-1/users", code: 501},
		{name: "open", method: "POST", path: "/devices/F-1/open", code: 200, want: `{"code":0,"message":"success"}`},
		{name: "open unknown", method: "POST", path: "/devices/NOPE/open", code: 404},
		{name: "open offline", method: "POST", path: "/devices/F-0/open", code: 404},
		{name: "open closed", method: "POST", path: "/devices/F-1/open", fail: accessctl.ErrClosed, code: 404},
		{name: "open timeout", method: "POST", path: "/devices/F-1/open", fail: accessctl.ErrTimeout, code: 504},
		{name: "open unsupported", method: "POST", path: "/devices/F-1/open", fail: fmt.Errorf("%w: no relay", accessctl.ErrUnsupported), code: 501},
		{name: "wrong method", method: "PATCH", path: "/devices", code: 405},
		{name: "unknown route", method: "GET", path: "/nope", code: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.fail != nil {
				e.fake.FailNext(tc.fail)
			}
			code, body := e.call(t, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.code, code, body)
			if tc.want != "" {
				assert.JSONEq(t, tc.want, body)
			}
		})
	}
}

// TestUserLifecycle checks what the fake holds after each call: the
// User⇄Grant mapping, and that an edit keeps what it does not name.
func TestUserLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code, _ := e.call(t, "POST", "/devices/F-1/users", seedUser)
	require.Equal(t, 200, code)
	g, err := e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "12384865"})
	require.NoError(t, err)
	assert.Equal(t, "李四", g.Name)
	assert.Equal(t, "lisi", g.Account)
	assert.True(t, g.Admin)
	face, ok := g.Credential(accessctl.CredFace)
	require.True(t, ok)
	assert.Equal(t, "image/jpeg", face.Face.MIME)
	pwd, ok := g.Credential(accessctl.CredPassword)
	require.True(t, ok)
	assert.Equal(t, "1234", pwd.Value)

	code, _ = e.call(t, "PUT", "/devices/F-1/users/12384865", `{"name":"李四四","role":"0","pwd":"5678"}`)
	require.Equal(t, 200, code)
	g, err = e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "12384865"})
	require.NoError(t, err)
	assert.Equal(t, "李四四", g.Name)
	assert.Equal(t, "lisi", g.Account, "absent fields stay")
	assert.False(t, g.Admin)
	_, ok = g.Credential(accessctl.CredFace)
	assert.True(t, ok, "the face stays")
	require.Len(t, g.Credentials, 2, "the password is replaced, not added")
	pwd, _ = g.Credential(accessctl.CredPassword)
	assert.Equal(t, "5678", pwd.Value)

	code, body := e.call(t, "GET", "/devices/F-1/users?userId=12384865", "")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[{"userId":"12384865","user":"lisi","name":"李四四","role":"0"}]`, body, "never the password or the face")
	code, _ = e.call(t, "POST", "/devices/F-1/users", `{"userId":"7","name":"王五"}`)
	require.Equal(t, 200, code)
	code, body = e.call(t, "GET", "/devices/F-1/users", "")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[{"userId":"12384865"},{"userId":"7"}]`, body)

	code, _ = e.call(t, "DELETE", "/devices/F-1/users/12384865", "")
	require.Equal(t, 200, code)
	_, held := e.fake.Holds("12384865")
	assert.False(t, held)
	code, _ = e.call(t, "DELETE", "/devices/F-1/users/12384865", "")
	assert.Equal(t, 200, code, "removing an absent person is not an error")

	code, _ = e.call(t, "POST", "/devices/F-1/open?reason=test", "")
	require.Equal(t, 200, code)
	assert.Equal(t, 1, e.fake.DoorOpens())
}

// An edit that cannot read the device's copy fails as that read did.
func TestEditReadFails(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(accessctl.ErrTimeout)
	code, _ := e.call(t, "PUT", "/devices/F-1/users/1", `{"name":"x"}`)
	assert.Equal(t, 504, code)
	_, held := e.fake.Holds("1")
	assert.False(t, held, "nothing written after the failed read")
}

func TestUserCommander(t *testing.T) {
	e := newEnv(t)
	e.cmd.answer = json.RawMessage(`{"code":"500","data":"exists","commandId":"202401151136440001"}`)
	e.cmd.err = accessctl.Rejected("addUser", "500", "exists")
	code, body := e.call(t, "POST", "/devices/C-1/users", `{"userId":"1","img":"`+jpeg+`","pwd":"p"}`)
	assert.Equal(t, 200, code)
	assert.Equal(t, string(e.cmd.answer), body, "the device's answer, verbatim, refusal included")
	code, _ = e.call(t, "PUT", "/devices/C-1/users/2", `{"name":"n","cards":["7"]}`)
	assert.Equal(t, 200, code)
	code, _ = e.call(t, "DELETE", "/devices/C-1/users/3", "")
	assert.Equal(t, 200, code)
	code, _ = e.call(t, "GET", "/devices/C-1/users?userId=4&name=n4", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, []string{
		`add {"userId":"1","pwd":"p","img":"` + jpeg + `"}`,
		`edit {"userId":"2","name":"n","cards":["7"]}`,
		`delete {"userId":"3"}`,
		`select {"userId":"4","name":"n4"}`,
	}, e.cmd.got, "the validated object, the photo as sent")

	e.cmd.answer, e.cmd.err = nil, fmt.Errorf("%w: silent", accessctl.ErrTimeout)
	code, _ = e.call(t, "DELETE", "/devices/C-1/users/3", "")
	assert.Equal(t, 504, code)
	e.cmd.err = accessctl.ErrOffline
	code, _ = e.call(t, "GET", "/devices/C-1/users", "")
	assert.Equal(t, 404, code)
	e.cmd.err = fmt.Errorf("%w: no cards here", accessctl.ErrUnsupported)
	code, _ = e.call(t, "POST", "/devices/C-1/users", `{"userId":"5","cards":["1"]}`)
	assert.Equal(t, 501, code, "a kind the device cannot carry")
	code, _ = e.call(t, "POST", "/devices/C-1/users", `{"name":"no id"}`)
	assert.Equal(t, 400, code, "the body is checked before the device is asked")
	code, _ = e.call(t, "POST", "/devices/C-1/users", `{"userId":"6","img":"base64....."}`)
	assert.Equal(t, 400, code, "not a picture")
	assert.Len(t, e.cmd.got, 7)
}

func TestTimeoutAndMaxBody(t *testing.T) {
	e := newEnv(t, adminapi.WithTimeout(50*time.Millisecond), adminapi.WithMaxBody(64))
	start := time.Now()
	code, _ := e.call(t, "POST", "/devices/B-1/open", "")
	assert.Equal(t, 504, code, "the door never answers")
	assert.Less(t, time.Since(start), 5*time.Second)
	code, _ = e.call(t, "POST", "/devices/F-1/users", seedUser)
	assert.Equal(t, 400, code, "body over the limit")
}

func TestStatus(t *testing.T) {
	for err, want := range map[error]int{
		nil:                               200,
		accessctl.Rejected("op", "1", ""): 200,
		accessctl.ErrOffline:              404,
		accessctl.ErrClosed:               404,
		accessctl.ErrNotFound:             404,
		accessctl.ErrTimeout:              504,
		context.DeadlineExceeded:          504,
		accessctl.ErrUnsupported:          501,
		accessctl.ErrInvalid:              400,
		errors.New("x"):                   502,
		errors.Join(accessctl.ErrRejected, accessctl.ErrUnsupported): 501,
	} {
		assert.Equal(t, want, adminapi.Status(err), "%v", err)
	}
}

func TestUserGrantMapping(t *testing.T) {
	g, err := adminapi.User{UserID: "1", User: "u", Name: "n", Role: "1", Pwd: "p", Img: "data:image/jpeg;base64," + jpeg}.Grant()
	require.NoError(t, err)
	assert.Equal(t, "1", g.Person.ID)
	assert.True(t, g.Admin)
	require.Len(t, g.Credentials, 2)
	assert.Equal(t, adminapi.User{UserID: "1", User: "u", Name: "n", Role: "1"}, adminapi.UserOf(g))
	_, err = adminapi.User{Name: "no id"}.Grant()
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = adminapi.User{UserID: "1", Img: "!!!"}.Grant()
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = adminapi.User{UserID: "1", Img: base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))}.Grant()
	assert.ErrorIs(t, err, accessctl.ErrInvalid, "a JPEG head is not a picture")
	assert.NotContains(t, adminapi.User{UserID: "1", Pwd: "secret", Img: jpeg}.String(), "secret")
}

func FuzzUser(f *testing.F) {
	for _, s := range []string{seedUser, `{"userId":12384865}`, `{"userId":null,"img":null}`, `{"userId":{}}`, `[]`, `{"img":"data:,"}`, `{"userId":-1e9,"role":1}`,
		`{"userId":"7","cards":["3000123456",3000123457],"bleCards":["C0FFEE"],"validFrom":"2026-01-01T00:00:00+08:00","validTo":"2027-01-01T00:00:00Z"}`,
		`{"userId":"1","userId":"2"}`, "{\"userId\":\"a\xffb\"}", `{"userId":"a\ud800"}`, `{"userId":"1","cards":[[[[[[[[1]]]]]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var u adminapi.User
		if json.Unmarshal(b, &u) != nil {
			return
		}
		g, err := u.Grant()
		if err != nil {
			return
		}
		if g.Person.ID != u.UserID || !utf8.ValidString(u.UserID) || strings.ContainsRune(u.UserID, utf8.RuneError) || len(u.UserID) > adminapi.MaxIDLen {
			t.Fatalf("person %q from userId %q", g.Person.ID, u.UserID)
		}
		if len(u.Cards) > adminapi.MaxCards || len(u.BLECards) > adminapi.MaxCards {
			t.Fatalf("%d cards", len(u.Cards))
		}
	})
}

// The API's user object takes numbers for strings but, unlike the
// terminals' one (wsterm.User), refuses booleans.
func TestUserScalarRule(t *testing.T) {
	var u adminapi.User
	require.NoError(t, json.Unmarshal([]byte(`{"userId":77986,"name":"李四","role":null}`), &u))
	assert.Equal(t, adminapi.User{UserID: "77986", Name: "李四"}, u)
	assert.Error(t, json.Unmarshal([]byte(`{"userId":"1","role":true}`), &u))
	assert.Error(t, json.Unmarshal([]byte(`{"userId":{}}`), &u))
}
