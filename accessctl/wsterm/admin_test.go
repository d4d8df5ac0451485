package wsterm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

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

const seedUser = `{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}`

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, wsterm.WithTimeout(wsterm.CmdCompareUser, time.Second), wsterm.WithTimeout(wsterm.CmdDeleteUser, 200*time.Millisecond))
	term := e.terminal(t, "486468465489", wstermtest.WithAddress("192.168.0.102", "31231E2EW12W12"))
	api := httptest.NewServer(wsterm.AdminHandler(e.srv))
	defer api.Close()

	code, body := call(t, "GET", api.URL+"/devices", "")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `[{"sn":"486468465489","ip":"192.168.0.102","mac":"31231E2EW12W12","type":"0","online":true}]`, body)

	code, body = call(t, "POST", api.URL+"/devices/486468465489/users", seedUser)
	assert.Equal(t, 200, code)
	var rep map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	assert.Equal(t, "200", rep["code"])
	assert.Len(t, rep["commandId"], 18, "the device's answer, verbatim")
	u, ok := term.User("12384865")
	require.True(t, ok)
	assert.Equal(t, "base64.....", u.Img, "the API passes the seed's user object through")

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

	code, body = call(t, "DELETE", api.URL+"/devices/486468465489/users/12384865", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"code":"200"`)
	code, body = call(t, "DELETE", api.URL+"/devices/486468465489/users/12384865", "")
	assert.Equal(t, 200, code, "a refusal is the device's answer too")
	assert.Contains(t, body, `"code":"500"`)

	for _, bad := range []string{"{", `[]`, `{"name":"no id"}`, `{"userId":{}}`} {
		code, _ = call(t, "POST", api.URL+"/devices/486468465489/users", bad)
		assert.Equal(t, 400, code, bad)
	}
	code, _ = call(t, "POST", api.URL+"/devices/unknown/users", seedUser)
	assert.Equal(t, 404, code)
	code, _ = call(t, "GET", api.URL+"/devices/unknown/users?userId=1", "")
	assert.Equal(t, 404, code)

	term.Misbehave("", wstermtest.Behavior{Silent: true})
	code, _ = call(t, "DELETE", api.URL+"/devices/486468465489/users/1", "")
	assert.Equal(t, 504, code)

	term.Disconnect()
	e.waitOnline(t, "486468465489", false)
	code, _ = call(t, "POST", api.URL+"/devices/486468465489/users", seedUser)
	assert.Equal(t, 404, code, "offline")
	code, body = call(t, "GET", api.URL+"/devices", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"online":false`)
	code, _ = call(t, "PATCH", api.URL+"/devices", "")
	assert.Equal(t, 405, code)
}
