package parking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Edge file service paths and limits (§7).
const (
	EdgeFileAddPath    = "/home/paas/file/add"
	EdgeFileDeletePath = "/home/paas/file/delete"
	EdgeFileGetPrefix  = "/oss/"
	// EdgeFileDefaultExpire is the retention when the upload gives none.
	EdgeFileDefaultExpire = 2 * time.Hour
	// EdgeFileMaxExpire is the longest retention an upload may ask for.
	EdgeFileMaxExpire = 604800 * time.Second
)

// EdgeFileServer is the gateway's edge file service (§7): cameras upload
// vehicle pictures with POST /home/paas/file/add (form-data filePath, file,
// expire), hosts fetch them with GET /oss/<path> (or GET /<path>, the
// second edition) and remove them with POST /home/paas/file/delete. Files
// live in memory, bounded per file and in total; when full, the oldest
// files are evicted first, and files past their retention are purged.
type EdgeFileServer struct {
	maxFile  int64
	maxTotal int64
	base     string
	now      func() time.Time

	mu    sync.Mutex
	files map[string]*edgeFile
	seq   uint64
	total int64
	st    EdgeFileStats
}

type edgeFile struct {
	seq     uint64 // upload order, for eviction
	data    []byte
	mime    string
	added   time.Time
	expires time.Time
}

// EdgeFileStats counts the service's traffic.
type EdgeFileStats struct {
	Files                            int
	Bytes                            int64
	Uploads, Downloads, Deletes      uint64
	Rejected, Evicted, Expired, Miss uint64
}

// EdgeFileOption configures NewEdgeFileServer.
type EdgeFileOption func(*EdgeFileServer)

// WithMaxFileSize bounds one upload (default 1 MB, a picture's limit).
func WithMaxFileSize(n int64) EdgeFileOption { return func(s *EdgeFileServer) { s.maxFile = n } }

// WithMaxTotalBytes bounds the store (default 256 MiB).
func WithMaxTotalBytes(n int64) EdgeFileOption { return func(s *EdgeFileServer) { s.maxTotal = n } }

// WithPublicURL sets the base of returned download URLs, e.g.
// "http://192.168.1.2:32012" for hosts outside the gateway (default: the
// request's Host).
func WithPublicURL(base string) EdgeFileOption {
	return func(s *EdgeFileServer) { s.base = strings.TrimRight(base, "/") }
}

// WithEdgeFileClock replaces time.Now.
func WithEdgeFileClock(now func() time.Time) EdgeFileOption {
	return func(s *EdgeFileServer) { s.now = now }
}

// NewEdgeFileServer returns an empty service; mount it as an http.Handler.
func NewEdgeFileServer(opts ...EdgeFileOption) *EdgeFileServer {
	s := &EdgeFileServer{maxFile: MaxAlarmMediaBytes, maxTotal: 256 << 20, now: time.Now, files: map[string]*edgeFile{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

type edgeReply struct {
	Code         int    `json:"code"`
	Message      string `json:"message"`
	LocalizedMsg string `json:"localizedMsg,omitempty"`
	Data         string `json:"data,omitempty"`
}

func writeEdge(w http.ResponseWriter, code int, msg, data string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	r := edgeReply{Code: code, Message: msg, Data: data}
	if code != http.StatusOK {
		r.LocalizedMsg = msg
	}
	b, _ := marshalNoEscape(r)
	_, _ = w.Write(b)
}

// ServeHTTP implements http.Handler.
func (s *EdgeFileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == EdgeFileAddPath && r.Method == http.MethodPost:
		s.add(w, r)
	case r.URL.Path == EdgeFileDeletePath && r.Method == http.MethodPost:
		s.delete(w, r)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.get(w, r)
	default:
		writeEdge(w, http.StatusMethodNotAllowed, "method not allowed", "")
	}
}

// CleanFilePath validates a filePath: relative, no "..", no control
// characters, at most 1024 bytes. It returns the cleaned form.
func CleanFilePath(p string) (string, error) {
	p = strings.TrimPrefix(strings.TrimSpace(p), "/")
	if p == "" || len(p) > 1024 {
		return "", fieldErr("filePath", "filePath", ErrOutOfRange, "empty or longer than 1024 bytes")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", fieldErr("filePath", "filePath", ErrBadType, "control character or backslash")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return "", fieldErr("filePath", "filePath", ErrBadType, "empty, . or .. segment")
		}
	}
	return path.Clean(p), nil
}

func (s *EdgeFileServer) reject(w http.ResponseWriter, code int, msg string) {
	s.mu.Lock()
	s.st.Rejected++
	s.mu.Unlock()
	writeEdge(w, code, msg, "")
}

func (s *EdgeFileServer) add(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxFile+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		s.reject(w, http.StatusBadRequest, "want multipart/form-data: "+err.Error())
		return
	}
	var filePath, mime string
	var data []byte
	var haveFile bool
	expire := EdgeFileDefaultExpire
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.reject(w, statusOf(err), "bad form: "+err.Error())
			return
		}
		switch part.FormName() {
		case "filePath":
			b, err := io.ReadAll(io.LimitReader(part, 2048))
			if err != nil {
				s.reject(w, statusOf(err), "bad filePath")
				return
			}
			filePath = string(b)
		case "expire":
			b, _ := io.ReadAll(io.LimitReader(part, 32))
			sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil || sec < 0 || time.Duration(sec)*time.Second > EdgeFileMaxExpire {
				s.reject(w, http.StatusBadRequest, "expire must be 0..604800 seconds")
				return
			}
			expire = time.Duration(sec) * time.Second
		case "file":
			data, err = io.ReadAll(io.LimitReader(part, s.maxFile+1))
			if err != nil {
				s.reject(w, statusOf(err), "bad file: "+err.Error())
				return
			}
			if int64(len(data)) > s.maxFile {
				s.reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("file over %d bytes", s.maxFile))
				return
			}
			haveFile = true
			mime = part.Header.Get("Content-Type")
		default:
			_, _ = io.Copy(io.Discard, io.LimitReader(part, 64<<10))
		}
	}
	if !haveFile {
		s.reject(w, http.StatusBadRequest, "file is required")
		return
	}
	clean, err := CleanFilePath(filePath)
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	if sniffed := accessctl.SniffImage(data); sniffed != "" || mime == "" || mime == "application/octet-stream" {
		mime = sniffed
	}
	if err := s.put(clean, data, mime, expire); err != nil {
		s.reject(w, http.StatusInsufficientStorage, err.Error())
		return
	}
	writeEdge(w, http.StatusOK, "success", s.urlFor(r, clean))
}

func statusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func (s *EdgeFileServer) urlFor(r *http.Request, p string) string {
	base := s.base
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + EdgeFileGetPrefix + (&url.URL{Path: p}).EscapedPath()
}

// Put stores a file directly (for tests and for a gateway's own pictures).
func (s *EdgeFileServer) put(p string, data []byte, mime string, expire time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.purgeLocked(now)
	if old, ok := s.files[p]; ok {
		s.total -= int64(len(old.data))
		delete(s.files, p)
	}
	if int64(len(data)) > s.maxTotal {
		return fmt.Errorf("%w: file larger than the store", ErrTooLong)
	}
	if s.total+int64(len(data)) > s.maxTotal {
		// Evict the oldest first (§11 item 23: pictures go before records).
		type kv struct {
			k string
			f *edgeFile
		}
		all := make([]kv, 0, len(s.files))
		for k, f := range s.files {
			all = append(all, kv{k, f})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].f.seq < all[j].f.seq })
		for _, e := range all {
			if s.total+int64(len(data)) <= s.maxTotal {
				break
			}
			s.total -= int64(len(e.f.data))
			delete(s.files, e.k)
			s.st.Evicted++
		}
	}
	s.seq++
	s.files[p] = &edgeFile{seq: s.seq, data: bytes.Clone(data), mime: mime, added: now, expires: now.Add(expire)}
	s.total += int64(len(data))
	s.st.Uploads++
	return nil
}

func (s *EdgeFileServer) purgeLocked(now time.Time) {
	for k, f := range s.files {
		if !now.Before(f.expires) {
			s.total -= int64(len(f.data))
			delete(s.files, k)
			s.st.Expired++
		}
	}
}

// Purge removes files past their retention now; the service also purges
// on every upload and download.
func (s *EdgeFileServer) Purge() {
	s.mu.Lock()
	s.purgeLocked(s.now())
	s.mu.Unlock()
}

func (s *EdgeFileServer) delete(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		s.reject(w, statusOf(err), "bad body")
		return
	}
	o, err := parseObject("file delete", b)
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := o.requiredStr("filePath")
	if err == nil {
		p, err = CleanFilePath(p)
	}
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	if f, ok := s.files[p]; ok {
		s.total -= int64(len(f.data))
		delete(s.files, p)
	}
	s.st.Deletes++
	s.mu.Unlock()
	writeEdge(w, http.StatusOK, "success", "") // deleting an absent file is no error
}

func (s *EdgeFileServer) get(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, EdgeFileGetPrefix)
	clean, err := CleanFilePath(p)
	if err != nil {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.purgeLocked(s.now())
	f, ok := s.files[clean]
	if !ok && strings.HasPrefix(r.URL.Path, EdgeFileGetPrefix) {
		f, ok = s.files[path.Join("oss", clean)] // a file literally under oss/
	}
	if ok {
		s.st.Downloads++
	} else {
		s.st.Miss++
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "not found (files are purged after their retention)", http.StatusNotFound)
		return
	}
	if f.mime != "" {
		w.Header().Set("Content-Type", f.mime)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	_, _ = w.Write(f.data)
}

// Stats returns the service's counters.
func (s *EdgeFileServer) Stats() EdgeFileStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Files, st.Bytes = len(s.files), s.total
	return st
}

// PictureName is the filePath a lane's picture is stored under:
// parking/<device>/<yyyyMMdd>/<HHmmss>_<event>.jpg (UTC+8 dates, path-safe).
func PictureName(device, eventID string, at time.Time) string {
	at = at.In(ChinaTime)
	return "parking/" + safeSegment(device) + "/" + at.Format("20060102") + "/" +
		at.Format("150405") + "_" + safeSegment(eventID) + ".jpg"
}

func safeSegment(s string) string {
	out := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	out = strings.Trim(out, ".")
	if out == "" {
		return "_"
	}
	return TruncateRunes(out, 128)
}

// EdgeFileClient uploads to, downloads from and deletes on an edge file
// service.
type EdgeFileClient struct {
	BaseURL string        // e.g. "http://homelinkedge:9102"
	HTTP    *http.Client  // default: 10 s timeout
	Expire  time.Duration // retention to ask for; 0: the service's default
	MaxGet  int64         // bound on downloads (default 8 MiB)
}

func (c *EdgeFileClient) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Upload stores data under filePath and returns the download URL the
// service gave. A reply code other than 200 is a *accessctl.RejectedError.
func (c *EdgeFileClient) Upload(ctx context.Context, filePath string, data []byte) (string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("filePath", filePath)
	if c.Expire > 0 {
		_ = mw.WriteField("expire", strconv.FormatInt(int64(c.Expire/time.Second), 10))
	}
	fw, err := mw.CreateFormFile("file", path.Base(filePath))
	if err != nil {
		return "", err
	}
	_, _ = fw.Write(data)
	if err := mw.Close(); err != nil {
		return "", err
	}
	rep, err := c.do(ctx, EdgeFileAddPath, mw.FormDataContentType(), &body)
	if err != nil {
		return "", err
	}
	return rep.Data, nil
}

// Delete removes filePath.
func (c *EdgeFileClient) Delete(ctx context.Context, filePath string) error {
	b, _ := json.Marshal(map[string]string{"filePath": filePath})
	_, err := c.do(ctx, EdgeFileDeletePath, "application/json", bytes.NewReader(b))
	return err
}

func (c *EdgeFileClient) do(ctx context.Context, p, ctype string, body io.Reader) (edgeReply, error) {
	var rep edgeReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+p, body)
	if err != nil {
		return rep, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.client().Do(req)
	if err != nil {
		return rep, fmt.Errorf("%w: %v", accessctl.ErrOffline, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fieldErr("edge file reply", "", ErrSyntax, "HTTP %d: %v", resp.StatusCode, err)
	}
	if rep.Code != 200 && rep.Code != 0 { // §10 G32: 0 and 200 both mean success
		return rep, accessctl.Rejected(p, strconv.Itoa(rep.Code), rep.Message)
	}
	return rep, nil
}

// Get downloads a URL the service returned, bounded by MaxGet.
func (c *EdgeFileClient) Get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", accessctl.ErrOffline, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s (purged?)", accessctl.ErrNotFound, u)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("edge file: HTTP %d", resp.StatusCode)
	}
	limit := c.MaxGet
	if limit <= 0 {
		limit = 8 << 20
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: download over %d bytes", ErrTooLong, limit)
	}
	return b, nil
}

// RewriteEdgeURL replaces the host of a URL the service returned inside
// the gateway (homelinkedge:9102) with one reachable from outside, e.g.
// "192.168.1.2:32012" (§11 item 25).
func RewriteEdgeURL(u, externalHost string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	p.Host = externalHost
	return p.String(), nil
}
