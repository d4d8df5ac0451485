package permfile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/menjin/menjin/transport/backoff"
)

// Fetcher downloads permission files from the permissionUrl of a
// syncPermissions call (spec §3.5 step 2). The zero value uses the spec's
// defaults; it is safe for concurrent use.
type Fetcher struct {
	// Client is used as is when set; its Timeout should be set. When nil
	// a client with TLS verification, a 10 s connect timeout, at most 3
	// redirects and Timeout is used.
	Client *http.Client
	// Timeout bounds one whole attempt, body included (default 120 s).
	Timeout time.Duration
	// Limits bounds the body and the entry count (default 32 MiB, 1e6).
	Limits Limits
	// Retries is how many times a network error or a 5xx is retried
	// (default 3; negative: never). 4xx is never retried: an expired
	// signed URL answers 403 forever.
	Retries int
	// Backoff between retries (default 2 s, 4 s, 8 s).
	Backoff *backoff.Policy
}

// Download is a fetched and parsed file.
type Download struct {
	File   *File
	SHA256 [32]byte // of the body, to recognise a file delivered twice
	Bytes  int64
}

var defaultBackoff = backoff.Policy{Min: 2 * time.Second, Max: 8 * time.Second, Factor: 2}

// HTTPStatusError is a non-200 answer. errors.Is(err, ErrFetch) holds.
type HTTPStatusError struct{ Status int }

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("permfile: download answered HTTP %d", e.Status)
}
func (e *HTTPStatusError) Is(target error) bool { return target == ErrFetch }

// Fetch downloads and parses the file at url, streaming the body into the
// parser. A parse error is final; network errors and 5xx are retried.
func (f *Fetcher) Fetch(ctx context.Context, url string) (*Download, error) {
	retries := f.Retries
	if retries == 0 {
		retries = 3
	}
	bo := defaultBackoff
	if f.Backoff != nil {
		bo = *f.Backoff
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		d, retry, err := f.once(ctx, url)
		if err == nil {
			return d, nil
		}
		lastErr = err
		if !retry || attempt >= retries || ctx.Err() != nil {
			return nil, lastErr
		}
		t := time.NewTimer(bo.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w (after %v)", ErrFetch, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return defaultClient
}

var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 3 {
			return errors.New("more than 3 redirects")
		}
		return nil
	},
}

func (f *Fetcher) once(ctx context.Context, url string) (d *Download, retry bool, err error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 120 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, resp.StatusCode >= 500, &HTTPStatusError{Status: resp.StatusCode}
	}
	lim := f.Limits.withDefaults()
	if resp.ContentLength > lim.MaxBytes {
		return nil, false, fmt.Errorf("%w: Content-Length %d over %d", ErrTooLarge, resp.ContentLength, lim.MaxBytes)
	}
	body := &countingReader{r: resp.Body, h: sha256.New()}
	file, perr := Parse(body, lim)
	// Drain what the parser left (white space), within the limit, so the
	// byte count and the hash cover the whole body.
	if perr == nil {
		if _, err := io.Copy(io.Discard, io.LimitReader(body, lim.MaxBytes-body.n+1)); err != nil {
			perr = err
		}
	}
	if body.err != nil && !errors.Is(body.err, io.EOF) {
		// The connection broke mid-body: worth another attempt.
		return nil, true, fmt.Errorf("%w: reading body: %w", ErrFetch, body.err)
	}
	if perr != nil {
		return nil, false, perr
	}
	if resp.ContentLength >= 0 && body.n != resp.ContentLength {
		return nil, true, fmt.Errorf("%w: got %d bytes, Content-Length %d", ErrFetch, body.n, resp.ContentLength)
	}
	d = &Download{File: file, Bytes: body.n}
	copy(d.SHA256[:], body.h.Sum(nil))
	return d, false, nil
}

type countingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
