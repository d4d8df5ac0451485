package shankaitest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// User is a user as the server holds it.
type User struct {
	Mobile string
	Name   string
	Card   string // as written (decimal or 0x…), "" for none
}

type org struct {
	id, name, address, contact, city, district string
	mode                                       string // "0" ID, "1" IC
	users                                      map[string]*User
	admins                                     map[string]bool
}

// Server is a 闪开 API on 127.0.0.1.
type Server struct {
	AppID, Secret string

	srv *httptest.Server

	mu          sync.Mutex
	now         time.Time
	expiresIn   int
	tokens      map[string]time.Time
	orgs        map[string]*org
	nextCard    int
	orgExists   int
	failNext    []int
	tokenCalls  int
	calls       map[string]int
	hexCardsOut bool
}

// NewServer starts a Server for one app. Close it when done.
func NewServer(appID, secret string) *Server {
	s := &Server{
		AppID: appID, Secret: secret,
		now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), expiresIn: 7200,
		tokens: map[string]time.Time{}, orgs: map[string]*org{}, nextCard: 123456,
		orgExists: 1001, calls: map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API root to pass to shankai.WithBaseURL.
func (s *Server) URL() string { return s.srv.URL + "/1.0/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Now is the server's clock; Advance moves it (tokens expire by it).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the server's clock.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// RevokeTokens expires every token now (what a 闪开 restart would do).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// FailNext answers the next API calls (not token fetches) with these errcodes.
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	s.failNext = append(s.failNext, codes...)
	s.mu.Unlock()
}

// SetOrgExistsCode chooses 1001 (the global table) or 10001 (section 1).
func (s *Server) SetOrgExistsCode(code int) {
	s.mu.Lock()
	s.orgExists = code
	s.mu.Unlock()
}

// SetHexCardsOut makes get_card_no answer allocated numbers as "0x…" strings.
func (s *Server) SetHexCardsOut(on bool) {
	s.mu.Lock()
	s.hexCardsOut = on
	s.mu.Unlock()
}

// TokenFetches counts get_access_token calls that issued a token.
func (s *Server) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// Calls counts calls per endpoint.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// User returns a user of an organisation.
func (s *Server) User(orgID, mobile string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[orgID]
	if !ok {
		return User{}, false
	}
	u, ok := o.users[mobile]
	if !ok {
		return User{}, false
	}
	return *u, true
}

func write(w http.ResponseWriter, code int, msg string, data any) {
	body := map[string]any{"errcode": code, "errmsg": msg}
	if data != nil {
		body["data"] = data
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

var messages = map[int]string{
	-1: "系统异常", 1001: "单位已注册", 10001: "小区已注册", 4001: "appid不存在或secret密码不正确",
	4002: "access_token已经过期", 4004: "手机号找不到对应的用户", 4005: "单位不存在",
	4006: "卡号输入不正确", 4007: "ID卡模式不能设置卡号", 4008: "帐号已存在",
}

func fail(w http.ResponseWriter, code int) { write(w, code, messages[code], nil) }

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validCard applies the documented rule: decimal up to 2147483647, or 0x
// and hex of at most 22 bytes.
func validCard(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false
		}
		s = n.String()
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		d := s[2:]
		if d == "" || (len(d)+1)/2 > 22 {
			return "", false
		}
		if _, err := hex.DecodeString(strings.Repeat("0", len(d)%2) + d); err != nil {
			return "", false
		}
		return s, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v > 2147483647 {
		return "", false
	}
	return s, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, "/1.0/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if op == "get_access_token" {
		if r.Method != http.MethodGet || q.Get("app_id") != s.AppID || q.Get("secret") != s.Secret {
			fail(w, 4001)
			return
		}
		tok := newToken()
		s.tokens[tok] = s.now.Add(time.Duration(s.expiresIn) * time.Second)
		s.tokenCalls++
		write(w, 0, "ok", map[string]any{"access_token": tok, "expires_in": s.expiresIn})
		return
	}
	s.calls[op]++
	exp, ok := s.tokens[q.Get("access_token")]
	if !ok || !s.now.Before(exp) {
		fail(w, 4002)
		return
	}
	if r.Method != http.MethodPost {
		fail(w, -1)
		return
	}
	if len(s.failNext) > 0 {
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail(w, code)
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		fail(w, -1)
		return
	}
	str := func(k string) string {
		var v string
		if json.Unmarshal(body[k], &v) != nil {
			var n json.Number
			if json.Unmarshal(body[k], &n) == nil {
				return n.String()
			}
		}
		return v
	}
	findOrg := func() *org { return s.orgs[str("org_id")] }
	switch op {
	case "create_organization":
		if str("name") == "" || (str("ic_id_mode") != "0" && str("ic_id_mode") != "1") {
			fail(w, -1)
			return
		}
		for _, o := range s.orgs {
			if o.name == str("name") {
				fail(w, s.orgExists)
				return
			}
		}
		o := &org{id: "o" + newToken()[:26], name: str("name"), address: str("address"), contact: str("contact"),
			mode: str("ic_id_mode"), users: map[string]*User{}, admins: map[string]bool{}}
		s.orgs[o.id] = o
		write(w, 0, "ok", map[string]any{"org_id": o.id})
	case "get_organization":
		for _, o := range s.orgs {
			if o.name == str("name") {
				write(w, 0, "ok", map[string]any{"org_id": o.id})
				return
			}
		}
		fail(w, 4005)
	case "update_organization":
		o := findOrg()
		if o == nil {
			fail(w, 4005)
			return
		}
		o.name, o.mode, o.city, o.district, o.address, o.contact = str("name"), str("ic_id_mode"), str("city"), str("district"), str("address"), str("contact")
		write(w, 0, "ok", nil)
	case "del_organization":
		if findOrg() == nil {
			fail(w, 4005)
			return
		}
		delete(s.orgs, str("org_id"))
		write(w, 0, "ok", nil)
	case "set_card_no":
		o := findOrg()
		switch {
		case o == nil:
			fail(w, 4005)
		case o.mode != "1":
			fail(w, 4007)
		case str("mobile") == "" || str("name") == "":
			fail(w, -1)
		default:
			card, ok := validCard(body["card_no"])
			if !ok {
				fail(w, 4006)
				return
			}
			o.users[str("mobile")] = &User{Mobile: str("mobile"), Name: str("name"), Card: card}
			write(w, 0, "ok", nil)
		}
	case "get_card_no":
		o := findOrg()
		if o == nil {
			fail(w, 4005)
			return
		}
		u, ok := o.users[str("mobile")]
		if !ok && o.mode == "0" && str("name") != "" {
			u = &User{Mobile: str("mobile"), Name: str("name")}
			o.users[u.Mobile] = u
			ok = true
		}
		if !ok {
			fail(w, 4004)
			return
		}
		isNew := "false"
		if u.Card == "" {
			s.nextCard++
			u.Card = strconv.Itoa(s.nextCard)
			if s.hexCardsOut {
				u.Card = fmt.Sprintf("0x%X", s.nextCard)
			}
			isNew = "true"
		}
		var card any = json.Number(u.Card)
		if strings.HasPrefix(u.Card, "0x") || strings.HasPrefix(u.Card, "0X") {
			card = u.Card
		}
		write(w, 0, "ok", map[string]any{"card_no": card, "is_new": isNew})
	case "del_user":
		o := findOrg()
		if o == nil {
			fail(w, 4005)
			return
		}
		if _, ok := o.users[str("mobile")]; !ok {
			fail(w, 4004)
			return
		}
		delete(o.users, str("mobile"))
		write(w, 0, "ok", nil)
	case "set_admin_user":
		o := findOrg()
		if o == nil {
			fail(w, 4005)
			return
		}
		if o.admins[str("login")] {
			fail(w, 4008)
			return
		}
		o.admins[str("login")] = true
		write(w, 0, "ok", nil)
	default:
		fail(w, -1)
	}
}
