package hciottest

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// GatewayStyle chooses how the Platform answers a request its gateway
// refuses: HC's 2021 gateway answers HTTP 401 (400 for an unknown app) with
// plain text, the 2025 gateway HTTP 200 with JSON code 404.
type GatewayStyle int

const (
	Gateway2021 GatewayStyle = iota
	Gateway2025
)

// Upload paths, as HC's MachineApi serves them.
const (
	OpenDoorLogPath = "/api/machine/openDoorLog"
	CmdResultPath   = "/api/machine/cmdResult"
	HeartbeatPath   = "/api/machine/heartbeat"
)

// Upload is one upload the Platform accepted.
type Upload struct {
	Path          string
	AppID         string
	TransactionID string
	ReqTime       string
	UserID        string
	Sign          string
	Raw           []byte         // the body exactly as received
	Body          map[string]any // decoded
	Header        http.Header    // everything received
	At            time.Time
}

// Field returns a body field as text.
func (u Upload) Field(key string) string {
	switch v := u.Body[key].(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Platform is an HC API gateway for uploads on 127.0.0.1.
type Platform struct {
	AppID        string
	SecurityCode string

	srv *httptest.Server

	mu       sync.Mutex
	style    GatewayStyle
	uploads  []Upload
	refused  []string
	failNext []injected
	notify   chan struct{}
}

type injected struct {
	status int
	body   string
}

// NewPlatform starts a Platform that accepts uploads signed with appID and
// securityCode. Close it when done.
func NewPlatform(appID, securityCode string) *Platform {
	p := &Platform{AppID: appID, SecurityCode: securityCode, notify: make(chan struct{}, 1)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// URL is the Platform's base URL.
func (p *Platform) URL() string { return p.srv.URL }

// OpenDoorURL is the 3001001 URL.
func (p *Platform) OpenDoorURL() string { return p.srv.URL + OpenDoorLogPath }

// CmdResultURL is the 3002001 URL.
func (p *Platform) CmdResultURL() string { return p.srv.URL + CmdResultPath }

// HeartbeatURL is the 3005001 URL.
func (p *Platform) HeartbeatURL() string { return p.srv.URL + HeartbeatPath }

// Close stops the Platform.
func (p *Platform) Close() { p.srv.Close() }

// SetStyle chooses how refusals are answered.
func (p *Platform) SetStyle(s GatewayStyle) {
	p.mu.Lock()
	p.style = s
	p.mu.Unlock()
}

// FailNext answers the next request with status and body instead of
// handling it (a 502 from a proxy, an HTML page).
func (p *Platform) FailNext(status int, body string) {
	p.mu.Lock()
	p.failNext = append(p.failNext, injected{status, body})
	p.mu.Unlock()
}

// Uploads returns the accepted uploads, oldest first.
func (p *Platform) Uploads() []Upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Upload(nil), p.uploads...)
}

// UploadsTo returns the accepted uploads to one path.
func (p *Platform) UploadsTo(path string) []Upload {
	var out []Upload
	for _, u := range p.Uploads() {
		if u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

// Refused returns the reasons of refused requests, oldest first.
func (p *Platform) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

// Wait blocks until n uploads were accepted or the timeout passes, and
// reports whether they were.
func (p *Platform) Wait(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if len(p.Uploads()) >= n {
			return true
		}
		select {
		case <-p.notify:
		case <-deadline.C:
			return len(p.Uploads()) >= n
		}
	}
}

// md5Sign is HC's AuthenticationFactory.apiDataFlowMd5, written here
// independently of package hciot so that each checks the other.
func md5Sign(parts ...string) string {
	return fmt.Sprintf("%x", md5.Sum([]byte(strings.Join(parts, ""))))
}

// header reads a header the way HC's gateway does: hyphen spelling first,
// then underscore.
func header(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return r.Header.Get(strings.ReplaceAll(name, "-", "_"))
}

func (p *Platform) refuse(w http.ResponseWriter, status int, reason string) {
	p.mu.Lock()
	p.refused = append(p.refused, reason)
	style := p.style
	p.mu.Unlock()
	if style == Gateway2025 {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"code":404,"msg":%q}`, reason)
		return
	}
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason)
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"code":%d,"msg":%q,"data":""}`, code, msg)
}

var required = map[string][]string{
	OpenDoorLogPath: {"userId", "userName", "machineCode", "openTypeCd", "similar", "dateTime", "extCommunityId", "recordTypeCd"},
	CmdResultPath:   {"taskId", "code", "msg"},
	HeartbeatPath:   {"taskId", "machineCode", "heartbeatTime", "extCommunityId"},
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if len(p.failNext) > 0 {
		f := p.failNext[0]
		p.failNext = p.failNext[1:]
		p.mu.Unlock()
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
		return
	}
	p.mu.Unlock()

	raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		p.refuse(w, http.StatusBadRequest, "初始化失败：读取请求失败")
		return
	}
	u := Upload{
		Path:          r.URL.Path,
		AppID:         header(r, "app-id"),
		TransactionID: header(r, "transaction-id"),
		ReqTime:       header(r, "req-time"),
		UserID:        header(r, "user-id"),
		Sign:          header(r, "sign"),
		Raw:           raw,
		Header:        r.Header.Clone(),
		At:            time.Now(),
	}
	switch {
	case u.AppID != p.AppID:
		p.refuse(w, http.StatusBadRequest, "初始化失败：APP_ID 为空或不正确")
		return
	case u.TransactionID == "":
		p.refuse(w, http.StatusUnauthorized, "鉴权失败：TRANSACTION_ID 不能为空")
		return
	case u.UserID == "":
		p.refuse(w, http.StatusUnauthorized, "鉴权失败：USER_ID 不能为空")
		return
	}
	if _, err := time.Parse("20060102150405", u.ReqTime); err != nil {
		p.refuse(w, http.StatusUnauthorized, "鉴权失败：requestTime 格式不对，遵循yyyyMMddHHmmss格式")
		return
	}
	payload := string(raw)
	if r.Method == http.MethodGet {
		q := r.URL.RawQuery
		if uq, err := url.QueryUnescape(q); err == nil {
			q = uq // HC signs the decoded parameters
		}
		payload = "?" + q
	}
	if p.SecurityCode != "" && md5Sign(u.TransactionID, u.ReqTime, u.AppID, payload, p.SecurityCode) != strings.ToLower(u.Sign) {
		p.refuse(w, http.StatusUnauthorized, "鉴权失败：签名失败")
		return
	}
	if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && !strings.HasPrefix(ct, "application/json") {
		reply(w, -1, "Content-Type 不是 application/json")
		return
	}
	if err := json.Unmarshal(raw, &u.Body); err != nil {
		reply(w, -1, "请求报文不是JSON")
		return
	}
	need, ok := required[u.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	for _, k := range need {
		if _, ok := u.Body[k]; !ok || u.Field(k) == "" {
			reply(w, -1, "未包含"+k)
			return
		}
	}
	p.mu.Lock()
	p.uploads = append(p.uploads, u)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
	reply(w, 0, "成功")
}
