package adminapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/adminapi"
)

const token = "Zm9vYmFyLXRva2VuLTEyMzQ1Ng"

// lockedBuffer is a log destination the handler and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func authed(t *testing.T, e *env, method, path, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.api.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestToken(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, adminapi.WithToken(token), adminapi.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for _, tc := range []struct {
		name, auth string
		code       int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer " + strings.Repeat("x", len(token)), 401},
		{"token prefix", "Bearer " + token[:len(token)-1], 401},
		{"token longer", "Bearer " + token + "A", 401},
		{"other scheme", "Basic " + token, 401},
		{"right token", "Bearer " + token, 200},
		{"scheme in lower case", "bearer " + token, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, route := range []struct{ method, path, body string }{
				{"GET", "/devices", ""},
				{"POST", "/devices/F-1/users", `{"userId":"42","name":"x"}`},
				{"POST", "/devices/F-1/open", ""},
			} {
				resp, body := authed(t, e, route.method, route.path, tc.auth, route.body)
				assert.Equal(t, tc.code, resp.StatusCode, "%s %s: %s", route.method, route.path, body)
				if tc.code == 401 {
					assert.Equal(t, `Bearer realm="menjin"`, resp.Header.Get("WWW-Authenticate"))
					assert.JSONEq(t, `{"error":"a bearer token is required"}`, body)
				}
			}
		})
	}
	_, held := e.fake.Holds("42")
	assert.True(t, held, "the authorised add went through")
	assert.Equal(t, 2, e.fake.DoorOpens(), "only the two authorised opens")

	out := logs.String()
	assert.NotContains(t, out, token, "the token is never logged")
	assert.Contains(t, out, adminapi.Fingerprint(token), "writes say who made them")
	assert.Contains(t, out, "remote=127.0.0.1:")
	assert.Contains(t, out, "path=/devices/F-1/open")
	assert.Contains(t, out, "msg=\"admin API: refused\"")
}

func TestNewRefuses(t *testing.T) {
	src := adminapi.FleetOf("x")
	for name, opts := range map[string][]adminapi.Option{
		"short token":   {adminapi.WithToken("short")},
		"space":         {adminapi.WithToken("abcdefgh ijklmnopq")},
		"newline":       {adminapi.WithToken("abcdefghijklmnopq\n")},
		"zero max body": {adminapi.WithMaxBody(0)},
	} {
		_, err := adminapi.New(src, opts...)
		assert.ErrorIs(t, err, accessctl.ErrInvalid, name)
	}
	_, err := adminapi.New(nil)
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = adminapi.New(src, adminapi.WithToken(""), nil)
	assert.NoError(t, err, "no token: an open API, for loopback")
	assert.NotEqual(t, adminapi.Fingerprint("a"), adminapi.Fingerprint("b"))
	assert.NotContains(t, adminapi.Fingerprint(token), token[:8])
}

// TestUserInputs are the refusals of the user object, each one before the
// device is asked.
func TestUserInputs(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate key":            `{"userId":"1","userId":"2"}`,
		"duplicate key, case":      `{"userId":"1","USERID":"2"}`,
		"duplicate in nested":      `{"userId":"1","cards":["1"],"cards":["2"]}`,
		"invalid UTF-8 id":         "{\"userId\":\"a\xffb\"}",
		"invalid UTF-8 name":       "{\"userId\":\"1\",\"name\":\"\xc3\"}",
		"unpaired surrogate":       `{"userId":"a\ud800b"}`,
		"replacement char":         `{"userId":"a\ufffd"}`,
		"id too long":              `{"userId":"` + strings.Repeat("1", adminapi.MaxIDLen+1) + `"}`,
		"control char in id":       `{"userId":"a\nb"}`,
		"name too long":            `{"userId":"1","name":"` + strings.Repeat("n", adminapi.MaxNameLen+1) + `"}`,
		"bad role":                 `{"userId":"1","role":"2"}`,
		"card not a string":        `{"userId":"1","cards":[{}]}`,
		"empty card":               `{"userId":"1","cards":[""]}`,
		"too many cards":           `{"userId":"1","bleCards":[` + strings.TrimSuffix(strings.Repeat(`"1",`, adminapi.MaxCards+1), ",") + `]}`,
		"validTo not RFC 3339":     `{"userId":"1","validTo":"2030-01-01"}`,
		"window ends before start": `{"userId":"1","validFrom":"2030-01-02T00:00:00Z","validTo":"2030-01-01T00:00:00Z"}`,
		"not an image":             `{"userId":"1","img":"aGVsbG8gd29ybGQ="}`,
		"too deep":                 `{"userId":"1","x":[[[[[[[[[[1]]]]]]]]]]}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			code, body := e.call(t, "POST", "/devices/F-1/users", body)
			assert.Equal(t, 400, code, body)
			refs, err := e.fake.ListGrants(context.Background())
			require.NoError(t, err)
			assert.Empty(t, refs, "nothing reached the device")
		})
	}
	e := newEnv(t)
	code, _ := e.call(t, "DELETE", "/devices/F-1/users/"+strings.Repeat("9", adminapi.MaxIDLen+1), "")
	assert.Equal(t, 400, code)
	code, _ = e.call(t, "DELETE", "/devices/F-1/users/a%FFb", "")
	assert.Equal(t, 400, code, "a path id that is not UTF-8")
	code, _ = e.call(t, "GET", "/devices/F-1/users?userId=a%FFb", "")
	assert.Equal(t, 400, code)
}

// TestCardsAndWindow: cards, Bluetooth cards and the window reach the
// device as credentials and come back; an edit with a card list replaces
// that list and keeps the rest.
func TestCardsAndWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code, body := e.call(t, "POST", "/devices/F-1/users",
		`{"userId":"7","name":"王五","pwd":"1234","cards":["3000123456",3000123457],"bleCards":["C0FFEE"],"validFrom":"2026-01-01T00:00:00+08:00","validTo":"2027-01-01T00:00:00Z"}`)
	require.Equal(t, 200, code, body)
	g, err := e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "7"})
	require.NoError(t, err)
	var cards, ble []string
	for _, c := range g.Credentials {
		switch c.Kind {
		case accessctl.CredCard:
			cards = append(cards, c.Card.Raw)
		case accessctl.CredBLECard:
			ble = append(ble, c.Card.Raw)
		}
	}
	assert.Equal(t, []string{"3000123456", "3000123457"}, cards)
	assert.Equal(t, []string{"C0FFEE"}, ble)
	require.NotNil(t, g.ValidFrom)
	require.NotNil(t, g.ValidTo)
	assert.Equal(t, "2025-12-31T16:00:00Z", g.ValidFrom.UTC().Format("2006-01-02T15:04:05Z07:00"))

	code, _ = e.call(t, "PUT", "/devices/F-1/users/7", `{"cards":["1"]}`)
	require.Equal(t, 200, code)
	code, body = e.call(t, "GET", "/devices/F-1/users?userId=7", "")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[{"userId":"7","name":"王五","role":"0","cards":["1"],"bleCards":["C0FFEE"],
		"validFrom":"2026-01-01T00:00:00+08:00","validTo":"2027-01-01T00:00:00Z"}]`, body, "never the password")

	code, _ = e.call(t, "PUT", "/devices/F-1/users/7", `{"bleCards":[]}`)
	require.Equal(t, 200, code)
	g, _ = e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "7"})
	_, hasBLE := g.Credential(accessctl.CredBLECard)
	assert.False(t, hasBLE, "an empty list clears its kind")
	_, hasPwd := g.Credential(accessctl.CredPassword)
	assert.True(t, hasPwd, "the password stays")
}
