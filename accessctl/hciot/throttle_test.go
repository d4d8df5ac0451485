package hciot_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

// clientFrom dials the server from local address ip (127.0.0.2 plays a
// foreign host), so the server sees that source address on the socket.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func tokenCall(t *testing.T, c *http.Client, base, secret string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(base + "/extApi/auth/getAccessToken?appId=" + iotAppID + "&appSecret=" + url.QueryEscape(secret))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

// Wrong secrets from one address are throttled to the burst, then 429
// whatever is sent, while another address still gets its token; the
// bucket refills with time.
func TestTokenThrottle(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv, err := hciot.NewServer(hciot.WithApp(iotAppID, iotAppSecret), hciot.WithClock(clock.now), hciot.WithTokenThrottle(5, time.Minute))
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	defer attacker.CloseIdleConnections()
	defer other.CloseIdleConnections()

	judged, limited := 0, 0
	for i := range 3000 {
		code, body, hdr := tokenCall(t, attacker, ts.URL, "wrong-"+strings.Repeat("x", i%7))
		switch code {
		case http.StatusOK:
			judged++
			assert.Contains(t, body, `"code":-1`)
		case http.StatusTooManyRequests:
			limited++
			assert.NotEmpty(t, hdr.Get("Retry-After"))
		default:
			t.Fatalf("HTTP %d: %s", code, body)
		}
	}
	assert.Equal(t, 5, judged, "only the burst is looked at")
	assert.Equal(t, 2995, limited)
	assert.Equal(t, uint64(2995), srv.Stats().Throttled)

	code, _, _ := tokenCall(t, attacker, ts.URL, iotAppSecret)
	assert.Equal(t, http.StatusTooManyRequests, code, "a throttled address is not told the right secret either")
	code, body, _ := tokenCall(t, other, ts.URL, iotAppSecret)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"access_token"`, "another address is not locked out")

	clock.add(time.Minute)
	code, body, _ = tokenCall(t, attacker, ts.URL, iotAppSecret)
	require.Equal(t, http.StatusOK, code, "one try back after a minute")
	assert.Contains(t, body, `"access_token"`)
	code, _, _ = tokenCall(t, attacker, ts.URL, "wrong")
	assert.Equal(t, http.StatusOK, code, "the right secret cost nothing")
	code, _, _ = tokenCall(t, attacker, ts.URL, "wrong")
	assert.Equal(t, http.StatusTooManyRequests, code)
}

// A body that names a key twice is refused before anything is done:
// encoding/json would act on the last copy.
func TestExtAPIDuplicateKeys(t *testing.T) {
	srv, err := hciot.NewServer(hciot.WithApp(iotAppID, iotAppSecret))
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := &hciottest.Client{BaseURL: ts.URL, AppID: iotAppID, AppSecret: iotAppSecret}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.GetToken(ctx)
	require.NoError(t, err)
	for _, body := range []string{
		`{"taskId":"t-1","extCommunityId":"` + community + `","extCommunityId":"other","name":"x","address":"a","cityCode":"1"}`,
		`{"taskId":"t-2","taskId":"t-3","extCommunityId":"` + community + `","name":"x","address":"a","cityCode":"1"}`,
	} {
		env, err := c.PostRaw(ctx, "/extApi/community/addCommunity", []byte(body))
		require.NoError(t, err)
		assert.Equal(t, hciot.CodeFail, env.Code, body)
		assert.Contains(t, env.Msg, "duplicate key")
	}
	assert.Zero(t, srv.Stats().Communities, "nothing was added")
	env, err := c.PostRaw(ctx, "/extApi/community/addCommunity", []byte(`{"taskId":"t-4","extCommunityId":"`+community+`","name":"x","address":"a","cityCode":"1"}`))
	require.NoError(t, err)
	raw, _ := json.Marshal(env)
	assert.Equal(t, 0, env.Code, "the same body without the duplicate is taken: %s", raw)
}
