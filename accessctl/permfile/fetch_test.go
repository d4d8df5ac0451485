package permfile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/backoff"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	defaultClient.CloseIdleConnections()
	if err := goleak.Find(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

var fastRetry = &backoff.Policy{Min: time.Millisecond, Max: 4 * time.Millisecond, Factor: 2}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchOK(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(specFile + "\n"))
	})
	d, err := (&Fetcher{}).Fetch(ctx, url+"/test.json")
	require.NoError(t, err)
	assert.Len(t, d.File.Entries, 3)
	assert.Equal(t, int64(len(specFile)+1), d.Bytes)
	assert.NotEqual(t, [32]byte{}, d.SHA256)
}

func TestFetchStatus(t *testing.T) {
	for _, tc := range []struct {
		status   int
		attempts int32
	}{
		{403, 1}, // an expired signed URL: never retried
		{404, 1},
		{500, 4}, // 1 + 3 retries
		{503, 4},
	} {
		var hits atomic.Int32
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(tc.status)
		})
		_, err := (&Fetcher{Backoff: fastRetry}).Fetch(ctx, url)
		require.ErrorIs(t, err, ErrFetch)
		var se *HTTPStatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, tc.status, se.Status)
		assert.Equal(t, tc.attempts, hits.Load(), "status %d", tc.status)
	}
}

func TestFetchRetriesThenSucceeds(t *testing.T) {
	var hits atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(specFile))
	})
	d, err := (&Fetcher{Backoff: fastRetry}).Fetch(ctx, url)
	require.NoError(t, err)
	assert.Len(t, d.File.Entries, 3)
	assert.Equal(t, int32(3), hits.Load())
}

func TestFetchTruncatedBody(t *testing.T) {
	var hits atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Promise the whole file, send half, hang up.
		w.Header().Set("Content-Length", strconv.Itoa(len(specFile)))
		_, _ = w.Write([]byte(specFile[:len(specFile)/2]))
	})
	_, err := (&Fetcher{Backoff: fastRetry, Retries: 1}).Fetch(ctx, url)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrFetch) || errors.Is(err, ErrSyntax), "%v", err)
	assert.Equal(t, int32(2), hits.Load(), "a broken body is retried")
}

func TestFetchSyntaxNotRetried(t *testing.T) {
	var hits atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"qrCodePermissionList":[{"type":1,`))
	})
	_, err := (&Fetcher{Backoff: fastRetry}).Fetch(ctx, url)
	require.ErrorIs(t, err, ErrSyntax)
	assert.Equal(t, int32(1), hits.Load())
}

func TestFetchSizeCap(t *testing.T) {
	big := `{"x":"` + string(make([]byte, 0)) + fmt.Sprintf("%0500d", 0) + `"}`
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = w.Write([]byte(big))
	})
	for _, path := range []string{"/", "/chunked"} {
		_, err := (&Fetcher{Limits: Limits{MaxBytes: 100}}).Fetch(ctx, url+path)
		require.ErrorIs(t, err, ErrTooLarge, path)
	}
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"qrCodePermissionList":[`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	_, err := (&Fetcher{Timeout: 100 * time.Millisecond, Retries: -1}).Fetch(ctx, url)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)

	// The caller's context bounds the retries too.
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = (&Fetcher{Timeout: 50 * time.Millisecond, Backoff: &backoff.Policy{Min: time.Hour, Max: time.Hour}}).Fetch(cctx, url)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestFetchRedirects(t *testing.T) {
	var url string
	url = serve(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("%s/?n=%d", url, n-1), http.StatusFound)
			return
		}
		_, _ = w.Write([]byte(specFile))
	})
	_, err := (&Fetcher{}).Fetch(ctx, url+"/?n=3")
	require.NoError(t, err, "3 redirects are fine")
	_, err = (&Fetcher{Retries: -1}).Fetch(ctx, url+"/?n=4")
	require.ErrorIs(t, err, ErrFetch, "the 4th is refused")
}

func TestFetchBadURL(t *testing.T) {
	_, err := (&Fetcher{}).Fetch(ctx, "http://[::1")
	require.ErrorIs(t, err, ErrFetch)
}

func TestSyncerOrderAndDedup(t *testing.T) {
	slowFirst := make(chan struct{})
	firstArrived := make(chan struct{})
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/1":
			close(firstArrived)
			<-slowFirst // the first file's download finishes last
			_, _ = w.Write([]byte(`{"qrCodePermissionList":[{"type":1,"qrCode":"X","maxScanTimes":1}]}`))
		case "/2":
			_, _ = w.Write([]byte(`{"qrCodePermissionList":[{"type":3,"qrCode":"X","maxScanTimes":2}]}`))
		case "/bad":
			_, _ = w.Write([]byte(`{`))
		}
	})
	st := NewStore()
	now := time.Unix(1_700_000_000, 0)
	var nowMu sync.Mutex
	s := &Syncer{Store: st, Fetcher: &Fetcher{}, Now: func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }}
	errs := make(chan error, 2)
	go func() { _, err := s.Sync(ctx, url+"/1"); errs <- err }()
	// Let the first call take its turn before the second arrives.
	<-firstArrived
	go func() { _, err := s.Sync(ctx, url+"/2"); errs <- err }()
	time.Sleep(50 * time.Millisecond)
	close(slowFirst)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	r, _ := st.Lookup(accessctl.CredQRCode, "X")
	assert.Equal(t, 2, r.MaxScans, "file 2 applied after file 1")
	assert.Equal(t, 2, s.Status().Syncs)

	rep, err := s.Sync(ctx, url+"/2")
	require.NoError(t, err)
	assert.True(t, s.Status().Duplicate)
	assert.Equal(t, Report{}, rep)
	nowMu.Lock()
	now = now.Add(11 * time.Minute)
	nowMu.Unlock()
	_, err = s.Sync(ctx, url+"/2")
	require.NoError(t, err)
	assert.False(t, s.Status().Duplicate, "outside the window the file is applied again")

	_, err = s.Sync(ctx, url+"/bad")
	require.ErrorIs(t, err, ErrSyntax)
	assert.ErrorIs(t, s.Status().Err, ErrSyntax)
	assert.Equal(t, 1, s.Status().Failures)
	r, _ = st.Lookup(accessctl.CredQRCode, "X")
	assert.Equal(t, 2, r.MaxScans, "a failed sync leaves the state intact")

	// A caller that gives up while queued does not block the queue.
	hold, err := s.queue.acquire(ctx)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Sync(cctx, url+"/2")
	require.ErrorIs(t, err, context.Canceled)
	hold()
	_, err = s.Sync(ctx, url+"/2")
	require.NoError(t, err)
}
