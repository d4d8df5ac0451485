package linkkit

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
)

func tp(ms int64) *time.Time { t := time.UnixMilli(ms); return &t }

func TestGrantEntriesAndBuildFile(t *testing.T) {
	g := accessctl.Grant{
		Person:    accessctl.PersonRef{ID: "p-1"},
		ValidFrom: tp(1568270392000), ValidTo: tp(1599892792000),
		Credentials: []accessctl.Credential{
			{Kind: accessctl.CredQRCode, Value: "ALIF24DD9END8CD3", QR: &accessctl.QRLimits{MaxScans: 600, Scope: accessctl.ScopeShare}},
			{Kind: accessctl.CredCard, Card: &accessctl.CardNo{Raw: "F47B0BA2"}, ValidTo: tp(1590000000000)},
			{Kind: accessctl.CredBLECard, Value: "514152694808390"},
			{Kind: accessctl.CredPassword, Value: "123456"},
			{Kind: accessctl.CredFace, Face: &accessctl.Image{URL: "http://x/face.jpg"}},
		},
	}
	entries, skipped := GrantEntries(g)
	require.Len(t, entries, 4)
	require.Len(t, skipped, 1)
	assert.Equal(t, accessctl.CredFace, skipped[0].Kind)
	b, err := BuildFile(entries)
	require.NoError(t, err)
	// The QR entry matches the shape of the spec's test file (§3.7), plus userId.
	assert.JSONEq(t, `{
		"qrCodePermissionList":[{"type":1,"qrCode":"ALIF24DD9END8CD3","startTime":"1568270392000","endTime":"1599892792000","maxScanTimes":600,"maxScanScope":"SHARE","userId":"p-1"}],
		"tradCardPermissionList":[{"type":1,"cardId":"F47B0BA2","effectiveTime":"1568270392000","expiryTime":"1590000000000","userId":"p-1"}],
		"bleCardPermissionList":[{"type":1,"cardId":"514152694808390","effectiveTime":"1568270392000","expiryTime":"1599892792000","userId":"p-1"}],
		"passwordPermissionList":[{"type":1,"password":"123456","effectiveTime":"1568270392000","expiryTime":"1599892792000","userId":"p-1"}]
	}`, string(b))

	// Defaults: an unbounded QR code without limits is unlimited, per device.
	entries, _ = GrantEntries(accessctl.Grant{Person: accessctl.PersonRef{ID: "p-2"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "Q"}}})
	b, err = BuildFile(append(entries, Entry{Kind: accessctl.CredQRCode, Op: OpDelete, Key: "OLD"}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"qrCodePermissionList":[{"type":1,"qrCode":"Q","maxScanTimes":-1,"maxScanScope":"DEVICE","userId":"p-2"},{"type":2,"qrCode":"OLD"}]}`, string(b))

	// A deny grant carries nothing.
	entries, _ = GrantEntries(accessctl.Grant{Person: accessctl.PersonRef{ID: "p-3"}, Policy: accessctl.PolicyDeny,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "Q"}}})
	assert.Empty(t, entries)

	_, err = BuildFile([]Entry{{Kind: accessctl.CredFace, Op: OpAdd, Key: "x"}})
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
	_, err = BuildFile([]Entry{{Kind: accessctl.CredQRCode, Op: 4, Key: "x"}})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = BuildFile([]Entry{{Kind: accessctl.CredQRCode, Op: OpAdd}})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestFileServer(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	fs, err := ServeFiles("127.0.0.1:0", "", WithFileTTL(time.Minute), WithMaxFileSize(1024), WithMaxTotalSize(2048))
	require.NoError(t, err)
	defer fs.Close()
	fs.now = func() time.Time { return now }

	url, err := fs.Put([]byte(`{"qrCodePermissionList":[]}`))
	require.NoError(t, err)
	token := strings.TrimSuffix(url[strings.LastIndexByte(url, '/')+1:], ".json")
	assert.Len(t, token, 43, "256 random bits")
	url2, err := fs.Put([]byte(`{}`))
	require.NoError(t, err)
	assert.NotEqual(t, url, url2)

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(url)
	assert.Equal(t, 200, code)
	assert.Equal(t, `{"qrCodePermissionList":[]}`, body)
	assert.Equal(t, 1, fs.Downloads(url))

	code, _ = get(url[:len(url)-8] + "AAAA.json")
	assert.Equal(t, 404, code, "a guessed token")
	code, _ = get(strings.TrimSuffix(url, ".json"))
	assert.Equal(t, 404, code)
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)

	_, err = fs.Put(make([]byte, 1025))
	assert.ErrorIs(t, err, ErrFileTooLarge, "per file")
	_, err = fs.Put(make([]byte, 1020))
	require.NoError(t, err)
	_, err = fs.Put(make([]byte, 1020))
	assert.ErrorIs(t, err, ErrFileTooLarge, "in total")

	now = now.Add(2 * time.Minute)
	code, _ = get(url)
	assert.Equal(t, 404, code, "expired")
	assert.Equal(t, -1, fs.Downloads(url))
	_, err = fs.Put(make([]byte, 1000))
	require.NoError(t, err, "expired files free their room")
	st := fs.Stats()
	assert.Equal(t, uint64(1), st.Downloads)
	assert.GreaterOrEqual(t, st.NotFound, uint64(3))
	assert.GreaterOrEqual(t, st.Expired, uint64(3))

	fs.Remove(url2)
	code, _ = get(url2)
	assert.Equal(t, 404, code)
}

// curl, a client we did not write, downloads a permission file.
func TestFileServerWithCurl(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	fs, err := ServeFiles("127.0.0.1:0", "")
	require.NoError(t, err)
	defer fs.Close()
	url, err := fs.Put([]byte(`{"qrCodePermissionList":[{"type":2,"qrCode":"X"}]}`))
	require.NoError(t, err)
	out, err := exec.Command(curl, "-sS", "--fail", "--max-time", "5", url).Output()
	require.NoError(t, err)
	assert.Equal(t, `{"qrCodePermissionList":[{"type":2,"qrCode":"X"}]}`, string(out))
	err = exec.Command(curl, "-sS", "--fail", "--max-time", "5", strings.Replace(url, "/files/", "/files/x", 1)).Run()
	assert.Error(t, err, "curl --fail sees the 404")
}
