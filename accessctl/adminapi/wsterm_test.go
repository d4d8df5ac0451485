package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/adminapi"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/transport"
)

// wsterm's Device offers the user-command capability without importing
// this package: the interface is matched by its method alone.
var _ adminapi.UserCommander = (*wsterm.Device)(nil)

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWSTerminal serves a wsterm.Server (a Source through DeviceLister) to
// a simulated terminal on loopback: user routes answer with the terminal's
// reply frame verbatim.
func TestWSTerminal(t *testing.T) {
	srv := wsterm.NewServer(wsterm.WithTimeout(wsterm.CmdCompareUser, time.Second), wsterm.WithTimeout(wsterm.CmdDeleteUser, 200*time.Millisecond))
	ts := httptest.NewServer(srv)
	defer func() {
		require.NoError(t, srv.Close())
		ts.Close()
	}()
	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", wstermtest.WithSN("486468465489"),
		wstermtest.WithAddress("192.168.0.102", "31231E2EW12W12"),
		wstermtest.WithTransport(transport.WithBackoff(transport.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond})))
	defer term.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, term.WaitRegistered(ctx))
	waitOnline := func(want bool) {
		require.Eventually(t, func() bool {
			sts, err := srv.Devices(context.Background())
			return err == nil && len(sts) == 1 && sts[0].Online == want
		}, 5*time.Second, 5*time.Millisecond, "online=%t", want)
	}
	waitOnline(true)
	h, err := adminapi.New(srv)
	require.NoError(t, err)
	api := httptest.NewServer(h)
	defer api.Close()

	code, body := call(t, "GET", api.URL+"/devices", "")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `[{"sn":"486468465489","ip":"192.168.0.102","mac":"31231E2EW12W12","type":"0","online":true}]`, body)

	img := pngB64(t)
	seed := `{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"` + img + `"}`
	code, body = call(t, "POST", api.URL+"/devices/486468465489/users", seed)
	assert.Equal(t, 200, code)
	var rep map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	assert.Equal(t, "200", rep["code"])
	assert.Len(t, rep["commandId"], 18, "the device's answer, verbatim")
	u, ok := term.User("12384865")
	require.True(t, ok)
	assert.Equal(t, img, u.Img, "the photo goes to the terminal as sent")

	code, _ = call(t, "PUT", api.URL+"/devices/486468465489/users/12384865", `{"name":"李四四"}`)
	assert.Equal(t, 200, code)
	u, _ = term.User("12384865")
	assert.Equal(t, "李四四", u.Name)
	assert.Equal(t, "1234", u.Pwd)

	code, body = call(t, "GET", api.URL+"/devices/486468465489/users?userId=12384865", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"code":"203"`)
	assert.Contains(t, body, `"name":"李四四"`)
	code, body = call(t, "GET", api.URL+"/devices/486468465489/users", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"userId":"12384865"`)

	// The protocol has no cards and no validity window: 501, nothing sent.
	for _, cannot := range []string{`{"userId":"9","cards":["12345678"]}`, `{"userId":"9","bleCards":["AA"]}`, `{"userId":"9","validTo":"2030-01-01T00:00:00Z"}`} {
		code, body = call(t, "POST", api.URL+"/devices/486468465489/users", cannot)
		assert.Equal(t, http.StatusNotImplemented, code, cannot)
		assert.Contains(t, body, `"error":`)
	}
	code, _ = call(t, "PUT", api.URL+"/devices/486468465489/users/12384865", `{"cards":["1"]}`)
	assert.Equal(t, http.StatusNotImplemented, code)
	_, held := term.User("9")
	assert.False(t, held)

	code, body = call(t, "DELETE", api.URL+"/devices/486468465489/users/12384865", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"code":"200"`)
	code, body = call(t, "DELETE", api.URL+"/devices/486468465489/users/12384865", "")
	assert.Equal(t, 200, code, "a refusal is the device's answer too")
	assert.Contains(t, body, `"code":"500"`)

	for _, bad := range []string{"{", `[]`, `{"name":"no id"}`, `{"userId":{}}`, `{"userId":"1","img":"base64....."}`} {
		code, _ = call(t, "POST", api.URL+"/devices/486468465489/users", bad)
		assert.Equal(t, 400, code, bad)
	}
	code, _ = call(t, "POST", api.URL+"/devices/unknown/users", seed)
	assert.Equal(t, 404, code)
	code, _ = call(t, "GET", api.URL+"/devices/unknown/users?userId=1", "")
	assert.Equal(t, 404, code)
	code, _ = call(t, "POST", api.URL+"/devices/486468465489/open", "")
	assert.Equal(t, http.StatusNotImplemented, code, "the protocol has no remote open")

	term.Misbehave("", wstermtest.Behavior{Silent: true})
	code, _ = call(t, "DELETE", api.URL+"/devices/486468465489/users/1", "")
	assert.Equal(t, 504, code)

	term.Disconnect()
	waitOnline(false)
	code, _ = call(t, "POST", api.URL+"/devices/486468465489/users", seed)
	assert.Equal(t, 404, code, "offline")
	code, body = call(t, "GET", api.URL+"/devices", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"online":false`)
	code, _ = call(t, "PATCH", api.URL+"/devices", "")
	assert.Equal(t, 405, code)
	http.DefaultClient.CloseIdleConnections()
}
