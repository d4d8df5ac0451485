package parking_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

var jpeg = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 100)...)

func TestEdgeFileServiceWithGoClient(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(parking.NewEdgeFileServer())
	defer srv.Close()
	c := &parking.EdgeFileClient{BaseURL: srv.URL, Expire: time.Hour}
	name := parking.PictureName("lane/1", "ev 7", time.Date(2024, 3, 5, 12, 30, 0, 0, time.UTC))
	assert.Equal(t, "parking/lane_1/20240305/203000_ev_7.jpg", name)
	u, err := c.Upload(ctx, name, jpeg)
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/oss/"+name, u)
	got, err := c.Get(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, jpeg, got)
	// The second edition's GET without /oss/ also works.
	got, err = c.Get(ctx, srv.URL+"/"+name)
	require.NoError(t, err)
	assert.Equal(t, jpeg, got)

	require.NoError(t, c.Delete(ctx, name))
	require.NoError(t, c.Delete(ctx, name), "deleting an absent file is no error")
	_, err = c.Get(ctx, u)
	require.ErrorIs(t, err, accessctl.ErrNotFound)

	ext, err := parking.RewriteEdgeURL("http://homelinkedge:9102/oss/a/b.jpg", "192.168.1.2:32012")
	require.NoError(t, err)
	assert.Equal(t, "http://192.168.1.2:32012/oss/a/b.jpg", ext)
}

func TestEdgeFileServiceBounds(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	fs := parking.NewEdgeFileServer(parking.WithMaxFileSize(1000), parking.WithMaxTotalBytes(2500),
		parking.WithEdgeFileClock(clock), parking.WithPublicURL("http://gw:32012/"))
	srv := httptest.NewServer(fs)
	defer srv.Close()
	c := &parking.EdgeFileClient{BaseURL: srv.URL}

	_, err := c.Upload(ctx, "big.jpg", make([]byte, 1001))
	var rej *accessctl.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, "413", rej.Code)
	for _, bad := range []string{"../etc/passwd", "a/../../b", "", "a//b", "a\\b", "a/./b"} {
		_, err := c.Upload(ctx, bad, jpeg)
		require.ErrorIs(t, err, accessctl.ErrRejected, bad)
	}
	u, err := c.Upload(ctx, "/a/1.jpg", make([]byte, 1000))
	require.NoError(t, err)
	assert.Equal(t, "http://gw:32012/oss/a/1.jpg", u, "the public base, leading slash dropped")
	_, err = c.Upload(ctx, "a/2.jpg", make([]byte, 1000))
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	_, err = c.Upload(ctx, "a/3.jpg", make([]byte, 1000)) // over 2500 in total: the oldest goes
	require.NoError(t, err)
	st := fs.Stats()
	assert.Equal(t, uint64(1), st.Evicted)
	assert.LessOrEqual(t, st.Bytes, int64(2500))
	_, err = c.Get(ctx, srv.URL+"/oss/a/1.jpg")
	require.ErrorIs(t, err, accessctl.ErrNotFound)

	// Retention: the default is two hours.
	mu.Lock()
	now = now.Add(2*time.Hour + time.Second)
	mu.Unlock()
	fs.Purge()
	assert.Equal(t, 0, fs.Stats().Files)
	assert.Equal(t, uint64(2), fs.Stats().Expired)

	// expire outside [0, 604800] is refused.
	req := multipartUpload(t, srv.URL, "x.jpg", jpeg, "604801")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	// Not multipart, and a bad delete body.
	resp, err = http.Post(srv.URL+parking.EdgeFileAddPath, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Post(srv.URL+parking.EdgeFileDeletePath, "application/json", strings.NewReader(`{"filePath":"../x"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func multipartUpload(t *testing.T, base, name string, data []byte, expire string) *http.Request {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("--X\r\nContent-Disposition: form-data; name=\"filePath\"\r\n\r\n" + name + "\r\n")
	b.WriteString("--X\r\nContent-Disposition: form-data; name=\"expire\"\r\n\r\n" + expire + "\r\n")
	b.WriteString("--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n")
	b.Write(data)
	b.WriteString("\r\n--X--\r\n")
	req, err := http.NewRequest(http.MethodPost, base+parking.EdgeFileAddPath, &b)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=X")
	return req
}

// curl, a client we did not write, uploads, fetches and deletes as the
// spec's form-data example does.
func TestEdgeFileServiceWithCurl(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	srv := httptest.NewServer(parking.NewEdgeFileServer())
	defer srv.Close()
	dir := t.TempDir()
	pic := filepath.Join(dir, "ccc.jpg")
	require.NoError(t, os.WriteFile(pic, jpeg, 0o600))

	out, err := exec.Command(curl, "-sS", "--max-time", "10", "-F", "filePath=aaa/bbb/ccc.jpg", "-F", "expire=600",
		"-F", "file=@"+pic, srv.URL+parking.EdgeFileAddPath).CombinedOutput()
	require.NoError(t, err, string(out))
	var rep struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	assert.Equal(t, 200, rep.Code)
	assert.Equal(t, "success", rep.Message)
	assert.Equal(t, srv.URL+"/oss/aaa/bbb/ccc.jpg", rep.Data)

	got := filepath.Join(dir, "got.jpg")
	out, err = exec.Command(curl, "-sS", "--fail", "--max-time", "10", "-o", got, rep.Data).CombinedOutput()
	require.NoError(t, err, string(out))
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.Equal(t, jpeg, b)

	out, err = exec.Command(curl, "-sS", "--max-time", "10", "-H", "Content-Type: application/json",
		"-d", `{"filePath":"aaa/bbb/ccc.jpg"}`, srv.URL+parking.EdgeFileDeletePath).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.JSONEq(t, `{"code":200,"message":"success"}`, string(out))

	out, err = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", rep.Data).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "404", string(out))
}

// The cloud pushes a permission file by URL; the camera downloads and
// applies it, and exports its list through the edge file service.
func TestPermissionPushAndExport(t *testing.T) {
	ctx := context.Background()
	fs := parking.NewEdgeFileServer(parking.WithMaxFileSize(1 << 20))
	srv := httptest.NewServer(fs)
	defer srv.Close()
	files := &parking.EdgeFileClient{BaseURL: srv.URL}
	sim := parkingsim.New("cam", parkingsim.WithUploader(files.Upload))
	defer sim.Close()
	cam, err := parkingsim.Loopback(ctx, sim)
	require.NoError(t, err)

	u, err := files.Upload(ctx, "perm/push.json", mustRead(t, "testdata/TV-PERM-2.json"))
	require.NoError(t, err)
	require.NoError(t, cam.PushPermissions(ctx, u))
	assert.Equal(t, 2, sim.Permissions().Len())
	done, err := cam.PermissionDownloadDone(ctx)
	require.NoError(t, err)
	assert.True(t, done)

	exported, err := cam.ExportPermissions(ctx)
	require.NoError(t, err)
	b, err := files.Get(ctx, exported)
	require.NoError(t, err)
	f, err := parking.ParsePermissionFile(bytes.NewReader(b), parking.Exported())
	require.NoError(t, err)
	assert.Equal(t, sim.Permissions().Export(), f.Entries, "reconciliation compares sets")

	// A failed download answers status 1 and leaves the list as it was.
	err = cam.PushPermissions(ctx, srv.URL+"/oss/missing.json")
	require.ErrorIs(t, err, accessctl.ErrRejected)
	assert.Equal(t, 2, sim.Permissions().Len())
	u, err = files.Upload(ctx, "perm/bad.json", mustRead(t, "testdata/TV-PERM-1.txt"))
	require.NoError(t, err)
	require.ErrorIs(t, cam.PushPermissions(ctx, u), accessctl.ErrRejected, "the raw vector does not parse")
	assert.Equal(t, 2, sim.Permissions().Len())
}
