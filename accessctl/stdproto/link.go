package stdproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Identity is what the side that initiates a /connect says about itself.
// IP and MAC are "the initiator's" (spec B.6.1); an empty IP is filled with
// the local address that routes to the peer.
type Identity struct {
	SN         string
	IP         string
	MAC        string
	Keepalive  time.Duration // the heartbeat period promised; sent in whole seconds, clamped to [10,120]
	SignMethod string        // md5 (default), sha1 or sha256
}

// Default timeouts (spec B.3, B.5).
const (
	DefaultCallTimeout   = 5 * time.Second
	DefaultFaceTimeout   = 10 * time.Second // syncFaces, queryFaces
	DefaultRuleTimeout   = 10 * time.Second // rule/sync
	DefaultDecideTimeout = 3 * time.Second  // recognize, qrcode
	maxResponseBytes     = 8 << 20
)

func timeoutFor(path string) time.Duration {
	switch path {
	case PathSyncFaces, PathQueryFaces:
		return DefaultFaceTimeout
	case PathRuleSync:
		return DefaultRuleTimeout
	case PathRecognize, PathQRCode:
		return DefaultDecideTimeout
	}
	return DefaultCallTimeout
}

// rateLimited are the elevator interfaces limited to 100 requests/s (B.2).
func rateLimited(path string) bool {
	switch path {
	case PathReportRunState, PathGetRunState, PathReleaseFloors, PathActivateFloor, PathCallElevator:
		return true
	}
	return false
}

// LinkStats counts a link's traffic.
type LinkStats struct {
	Calls      uint64 // requests sent, /connect included
	Failures   uint64 // calls that returned an error
	Timeouts   uint64
	Connects   uint64 // successful /connect
	Reconnects uint64 // code 4 answered, token renewed
	Repaired   uint64 // answers that needed the lenient decoder
}

// Link is one direction of the protocol: an HTTP client that /connects to a
// peer, keeps the token the peer issued and sends authenticated requests.
// On code 4 it connects again and retries the request once (spec D.7).
// Both the edge (calling a terminal) and a terminal (calling its edge) use
// one. It is safe for concurrent use.
type Link struct {
	base string
	id   Identity
	hc   *http.Client
	now  func() time.Time

	connMu sync.Mutex // one /connect at a time
	mu     sync.Mutex
	token  string
	gen    uint64 // bumped on every new token
	paceAt time.Time

	calls, failures, timeouts, connects, reconnects, repaired atomic.Uint64

	// onConnect, when set, is told of every new token (without blocking).
	onConnect func()
}

// NewLink returns a link to the peer at addr ("host:port" or a URL). hc may
// be nil: a client with keep-alives off is used, as the protocol forbids
// persistent connections (B.2).
func NewLink(addr string, id Identity, hc *http.Client) *Link {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	if hc == nil {
		hc = NewHTTPClient()
	}
	if id.SignMethod == "" {
		id.SignMethod = SignMD5
	}
	return &Link{base: strings.TrimRight(addr, "/"), id: id, hc: hc, now: time.Now}
}

// NewHTTPClient is an http.Client as the protocol wants it: no persistent
// connections, bounded connect time. Call timeouts come from contexts.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives:      true,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout:  15 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}}
}

// Addr is the peer's base URL.
func (l *Link) Addr() string { return l.base }

// Token is the token the peer issued, "" before the first /connect.
func (l *Link) Token() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// Connected reports whether the link holds a token.
func (l *Link) Connected() bool { return l.Token() != "" }

// Invalidate forgets the token, so that the next call connects first.
func (l *Link) Invalidate() {
	l.mu.Lock()
	l.token = ""
	l.gen++
	l.mu.Unlock()
}

// Stats returns the counters.
func (l *Link) Stats() LinkStats {
	return LinkStats{Calls: l.calls.Load(), Failures: l.failures.Load(), Timeouts: l.timeouts.Load(),
		Connects: l.connects.Load(), Reconnects: l.reconnects.Load(), Repaired: l.repaired.Load()}
}

// keepaliveSeconds is the promised period as the wire carries it.
func (l *Link) keepaliveSeconds() int64 {
	s := int64(l.id.Keepalive / time.Second)
	return min(max(s, MinKeepalive), MaxKeepalive)
}

// Connect runs /connect now and stores the issued token.
func (l *Link) Connect(ctx context.Context) error {
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()
	return l.connect(ctx, gen)
}

// connect connects unless another goroutine already renewed the token
// since gen was read.
func (l *Link) connect(ctx context.Context, gen uint64) error {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	l.mu.Lock()
	if l.gen != gen && l.token != "" {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	ip := l.id.IP
	if ip == "" {
		ip = localIPFor(l.base)
	}
	ts := l.now().Unix()
	sign, err := Sign(l.id.SignMethod, ts, l.id.MAC, l.id.SN, ip)
	if err != nil {
		return err
	}
	req := ConnectRequest{SN: l.id.SN, Time: Epoch(fmt.Sprint(ts)), IP: ip, MAC: l.id.MAC,
		Keepalive: Int(l.keepaliveSeconds()), SignMethod: normMethod(l.id.SignMethod), Sign: sign}
	body, _ := json.Marshal(&req)
	var data ConnectData
	if err := l.post(ctx, PathConnect, "application/json", body, &data); err != nil {
		return err
	}
	if data.Token == "" || len(data.Token) > MaxTokenBytes {
		l.failures.Add(1)
		return fmt.Errorf("%w: /connect answered token of %d bytes", ErrProtocol, len(data.Token))
	}
	l.mu.Lock()
	l.token = data.Token
	l.gen++
	l.mu.Unlock()
	l.connects.Add(1)
	if l.onConnect != nil {
		l.onConnect()
	}
	return nil
}

// ensure returns a token, connecting first when there is none.
func (l *Link) ensure(ctx context.Context) (string, uint64, error) {
	l.mu.Lock()
	tok, gen := l.token, l.gen
	l.mu.Unlock()
	if tok != "" {
		return tok, gen, nil
	}
	if err := l.connect(ctx, gen); err != nil {
		if ctx.Err() != nil {
			return "", 0, err
		}
		return "", 0, fmt.Errorf("%w: connect to %s: %w", accessctl.ErrOffline, l.base, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token, l.gen, nil
}

// drop forgets tok if it is still the current token.
func (l *Link) drop(tok string) {
	l.mu.Lock()
	if l.token == tok {
		l.token = ""
		l.gen++
	}
	l.mu.Unlock()
}

// Keepalive sends /keepalive (B.6.2).
func (l *Link) Keepalive(ctx context.Context) error {
	return l.Call(ctx, PathKeepalive, func(tok string) any { return &TokenRequest{Token: tok} }, nil)
}

// Call sends an authenticated JSON request. build returns the body for a
// token; out, when not nil, receives the answer's data. A code-4 answer
// renews the token and retries once.
func (l *Link) Call(ctx context.Context, path string, build func(token string) any, out any) error {
	return l.do(ctx, path, func(tok string) (string, []byte, error) {
		b, err := json.Marshal(build(tok))
		return "application/json", b, err
	}, out)
}

// FormFile is the file part of a multipart request.
type FormFile struct {
	Field, Name string
	Data        []byte
}

// CallForm sends an authenticated multipart request (/recognize,
// /faceAC/passEvent): fields as text parts, the token added.
func (l *Link) CallForm(ctx context.Context, path string, fields [][2]string, file FormFile, out any) error {
	return l.do(ctx, path, func(tok string) (string, []byte, error) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("token", tok)
		for _, f := range fields {
			_ = w.WriteField(f[0], f[1])
		}
		if file.Field != "" {
			h := make(textproto.MIMEHeader)
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, file.Field, file.Name))
			ct := accessctl.SniffImage(file.Data)
			if ct == "" {
				ct = "application/octet-stream"
			}
			h.Set("Content-Type", ct)
			pw, _ := w.CreatePart(h)
			_, _ = pw.Write(file.Data)
		}
		if err := w.Close(); err != nil {
			return "", nil, err
		}
		return w.FormDataContentType(), buf.Bytes(), nil
	}, out)
}

func (l *Link) do(ctx context.Context, path string, build func(tok string) (string, []byte, error), out any) error {
	for attempt := 0; ; attempt++ {
		tok, _, err := l.ensure(ctx)
		if err != nil {
			return err
		}
		ct, body, err := build(tok)
		if err != nil {
			return fmt.Errorf("%w: encoding %s: %v", accessctl.ErrInvalid, path, err)
		}
		err = l.post(ctx, path, ct, body, out)
		if !errors.Is(err, ErrTokenInvalid) {
			return err
		}
		l.drop(tok)
		if attempt == 1 {
			return fmt.Errorf("%w: %w", accessctl.ErrOffline, err)
		}
		l.reconnects.Add(1)
	}
}

// pace keeps the elevator interfaces under 100 requests/s per link (D.17).
func (l *Link) pace(ctx context.Context, path string) error {
	if !rateLimited(path) {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	at := l.paceAt
	if at.Before(now) {
		at = now
	}
	l.paceAt = at.Add(10 * time.Millisecond)
	l.mu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// post sends one request and decodes the envelope.
func (l *Link) post(ctx context.Context, path, contentType string, body []byte, out any) (err error) {
	l.calls.Add(1)
	defer func() {
		if err != nil {
			l.failures.Add(1)
			if errors.Is(err, accessctl.ErrTimeout) {
				l.timeouts.Add(1)
			}
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.pace(ctx, path); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeoutFor(path))
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, l.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", accessctl.ErrInvalid, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Close = true
	resp, err := l.hc.Do(req)
	if err != nil {
		return l.transportError(ctx, cctx, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return l.transportError(ctx, cctx, path, err)
	}
	if len(raw) > maxResponseBytes {
		return fmt.Errorf("%w: %s answered more than %d bytes", ErrProtocol, path, maxResponseBytes)
	}
	env, derr := DecodeResponse(raw)
	if resp.StatusCode == http.StatusNotFound && derr != nil {
		return fmt.Errorf("%w: %s: HTTP 404", accessctl.ErrUnsupported, path)
	}
	if derr != nil {
		return fmt.Errorf("%w: %s: HTTP %d: %v", ErrProtocol, path, resp.StatusCode, derr)
	}
	if !json.Valid(raw) {
		l.repaired.Add(1)
	}
	if env.Code != CodeOK {
		return &CodeError{Path: path, Code: int(env.Code), Message: env.Message}
	}
	if out == nil {
		return nil
	}
	data := env.Data
	if gd, ok := out.(*GroupIDData); ok {
		// getGroupId answers at the top level; read data.groupId too (C.B.23).
		gd.GroupID = env.GroupID
		if gd.GroupID != "" {
			return nil
		}
	}
	if len(data) == 0 || string(data) == "null" {
		return fmt.Errorf("%w: %s answered success without data", ErrProtocol, path)
	}
	if _, err := decodeJSON(data, out); err != nil {
		return fmt.Errorf("%w: %s data: %v", ErrProtocol, path, err)
	}
	return nil
}

func (l *Link) transportError(ctx, cctx context.Context, path string, err error) error {
	if ctx.Err() == nil && cctx.Err() == context.DeadlineExceeded {
		// the per-path timeout fired; the client's error may not say so
		err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	err = accessctl.MapTransportError(path, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, accessctl.ErrTimeout) ||
		errors.Is(err, accessctl.ErrOffline) || errors.Is(err, accessctl.ErrInvalid) {
		return err
	}
	// whatever else the HTTP client failed with, no answer came back
	return fmt.Errorf("%w: %w", accessctl.ErrOffline, err)
}

// GroupIDData is /visualIntercom/getGroupId's answer.
type GroupIDData struct {
	GroupID string `json:"groupId"`
}

// localIPFor returns the local IPv4 address that routes to base's host
// (no packet is sent), or "127.0.0.1".
func localIPFor(base string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	c, err := net.Dial("udp", host)
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		return a.IP.String()
	}
	return "127.0.0.1"
}
