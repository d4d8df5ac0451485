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

	"github.com/menjin/menjin/internal/testutil"
)

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
