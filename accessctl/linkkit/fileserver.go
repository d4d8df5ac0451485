package linkkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FileServer serves permission files to doors over HTTP under unguessable
// (256-bit random), expiring URLs. It is an http.Handler: mount it at the
// path of its base URL, or let ServeFiles listen for it.
type FileServer struct {
	base     string // URL prefix ending in "/"
	path     string // path part of base
	ttl      time.Duration
	maxFile  int
	maxTotal int
	now      func() time.Time

	mu    sync.Mutex
	files map[string]*servedFile
	total int

	srv  *http.Server
	done chan struct{}

	puts, downloads, notFound, expired atomic.Uint64
}

type servedFile struct {
	data      []byte
	expires   time.Time
	downloads int
}

// FileStats counts a FileServer's traffic.
type FileStats struct {
	Files     int
	Bytes     int
	Puts      uint64
	Downloads uint64 // complete GET answers
	NotFound  uint64 // unknown or expired tokens asked for
	Expired   uint64 // files dropped at expiry
}

// FileOption configures a FileServer.
type FileOption func(*FileServer)

// WithFileTTL sets how long a URL stays valid (default 10 minutes; doors
// download while the syncPermissions call is outstanding, or soon after).
func WithFileTTL(d time.Duration) FileOption { return func(s *FileServer) { s.ttl = d } }

// WithMaxFileSize bounds one file (default 32 MiB, the door's own cap).
func WithMaxFileSize(n int) FileOption { return func(s *FileServer) { s.maxFile = n } }

// WithMaxTotalSize bounds the bytes held at once (default 256 MiB).
func WithMaxTotalSize(n int) FileOption { return func(s *FileServer) { s.maxTotal = n } }

// ErrFileTooLarge: a file over the per-file or total limit.
var ErrFileTooLarge = errors.New("linkkit: permission file over the size limit")

// NewFileServer returns a handler that hands out URLs under baseURL
// (e.g. "http://192.168.1.10:8089/linkkit/files/"), an address doors can reach.
func NewFileServer(baseURL string, opts ...FileOption) (*FileServer, error) {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("linkkit: file server base URL %q is not http(s)", baseURL)
	}
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	rest := baseURL[strings.Index(baseURL, "//")+2:]
	path := "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = rest[i:]
	}
	s := &FileServer{base: baseURL, path: path, ttl: 10 * time.Minute, maxFile: 32 << 20, maxTotal: 256 << 20,
		now: time.Now, files: map[string]*servedFile{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// ServeFiles listens on addr and serves files under "/linkkit/files/".
// publicHost is the host[:port] doors use to reach it ("" = the listener's
// address, right for loopback tests only).
func ServeFiles(addr, publicHost string, opts ...FileOption) (*FileServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if publicHost == "" {
		publicHost = l.Addr().String()
	}
	s, err := NewFileServer("http://"+publicHost+"/linkkit/files/", opts...)
	if err != nil {
		l.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(s.path, s)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	return s, nil
}

// Close stops the listener started by ServeFiles.
func (s *FileServer) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return nil
}

// Put stores data and returns the URL that serves it until the TTL ends.
func (s *FileServer) Put(data []byte) (string, error) {
	if len(data) > s.maxFile {
		return "", fmt.Errorf("%w: %d bytes, limit %d", ErrFileTooLarge, len(data), s.maxFile)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if s.total+len(data) > s.maxTotal {
		return "", fmt.Errorf("%w: %d bytes held, limit %d", ErrFileTooLarge, s.total, s.maxTotal)
	}
	s.files[token] = &servedFile{data: data, expires: now.Add(s.ttl)}
	s.total += len(data)
	s.puts.Add(1)
	return s.base + token + ".json", nil
}

// Downloads returns how many times url was served completely (-1 if unknown or expired).
func (s *FileServer) Downloads(url string) int {
	token, ok := s.token(url)
	if !ok {
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[token]
	if !ok {
		return -1
	}
	return f.downloads
}

// Remove withdraws a URL before its TTL.
func (s *FileServer) Remove(url string) {
	token, ok := s.token(url)
	if !ok {
		return
	}
	s.mu.Lock()
	if f, ok := s.files[token]; ok {
		s.total -= len(f.data)
		delete(s.files, token)
	}
	s.mu.Unlock()
}

func (s *FileServer) token(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, s.base)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, ".json")
}

func (s *FileServer) sweepLocked(now time.Time) {
	for k, f := range s.files {
		if now.After(f.expires) {
			s.total -= len(f.data)
			delete(s.files, k)
			s.expired.Add(1)
		}
	}
}

// ServeHTTP answers GET and HEAD for live tokens; anything else is 404 or
// 405, the same 404 for a token that never existed and one that expired.
func (s *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, s.path)
	token, ok2 := strings.CutSuffix(name, ".json")
	now := s.now()
	s.mu.Lock()
	f, found := s.files[token]
	if found && now.After(f.expires) {
		s.total -= len(f.data)
		delete(s.files, token)
		s.expired.Add(1)
		found = false
	}
	var data []byte
	if found {
		data = f.data
	}
	s.mu.Unlock()
	if !ok || !ok2 || !found {
		s.notFound.Add(1)
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	if _, err := bytes.NewReader(data).WriteTo(w); err == nil {
		s.downloads.Add(1)
		s.mu.Lock()
		if f, ok := s.files[token]; ok {
			f.downloads++
		}
		s.mu.Unlock()
	}
}

// Stats returns the server's counters.
func (s *FileServer) Stats() FileStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return FileStats{Files: len(s.files), Bytes: s.total, Puts: s.puts.Load(), Downloads: s.downloads.Load(),
		NotFound: s.notFound.Load(), Expired: s.expired.Load()}
}
