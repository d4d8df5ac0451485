package stdproto

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The device side: what a terminal implements to be driven by an edge.
// A vendor implements Backend (remote open, the one interface every
// terminal has) and the optional capability interfaces its hardware
// supports; TerminalHandler does /connect, tokens, decoding and validation,
// and answers "unsupported" (code 99) for the capabilities missing.

// Backend is the minimum a terminal does.
type Backend interface {
	RemoteOpen(ctx context.Context) error
}

// KeepOpenBackend holds the door open (B.6.5–6).
type KeepOpenBackend interface {
	SetKeepOpen(ctx context.Context, on bool) error
	KeepOpen(ctx context.Context) (bool, error)
}

// TempRuleBackend checks body temperature (B.6.7).
type TempRuleBackend interface {
	SetTempRule(ctx context.Context, r TempRule) error
}

// FaceBackend compares faces on the device (B.7.2–3). SyncFaces applies
// the entries in order under one lock (D.14, D.15). QueryFaces with page 0
// is the full query.
type FaceBackend interface {
	SyncFaces(ctx context.Context, ops []FaceOp) error
	QueryFaces(ctx context.Context, page, size int) (QueryFacesData, error)
}

// PermissionBackend holds card (ble false) and Bluetooth-card (ble true)
// whitelists (B.9.1, B.9.3).
type PermissionBackend interface {
	SyncPermissions(ctx context.Context, ble bool, perms []Permission) error
}

// IntercomBackend takes a SIP account and phone verdicts (B.10.1, B.10.4).
type IntercomBackend interface {
	SyncSipNumber(ctx context.Context, r SipNumberRequest) error
	PhoneResult(ctx context.Context, phone string, valid bool) error
}

// ElevatorBackend is an elevator controller (B.11.2–6).
type ElevatorBackend interface {
	RunState(ctx context.Context, ids []string) ([]CarState, error)
	ReleaseFloors(ctx context.Context, r ReleaseFloorsRequest) error
	ActivateFloor(ctx context.Context, r ActivateFloorRequest) error
	Call(ctx context.Context, r CallRequest) error
	Info(ctx context.Context) (ElevatorInfo, error)
}

// RuleBackend does person–elevator linkage (B.11.7–8, 10–11).
type RuleBackend interface {
	SyncRules(ctx context.Context, ops []RuleOp) error
	Rules(ctx context.Context, page, size int) (RuleGetData, error)
	SetAvailability(ctx context.Context, enable bool) error
	Availability(ctx context.Context) (bool, error)
}

// HandlerOption configures a TerminalHandler.
type HandlerOption func(*TerminalHandler)

// WithEdgeIP accepts edge calls (/connect and every command) only from a
// connection whose socket address is ip; others are answered code 7
// before their body is read. The ip written in a /connect body is not
// trusted: it is the sender's claim. An ip that does not parse allows
// nobody. It replaces WithAllowedEdges.
func WithEdgeIP(ip string) HandlerOption {
	return func(h *TerminalHandler) {
		h.allowed = []netip.Prefix{}
		if a, ok := parseIP(ip); ok {
			h.allowed = []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
		}
	}
}

// WithAllowedEdges accepts edge calls from socket addresses in the given
// prefixes only (several edges, or an edge behind a pool of addresses). No
// prefix allows nobody. It replaces WithEdgeIP. Without either option only
// loopback (127.0.0.0/8, ::1) may call; an Agent defaults to its edge's
// address.
func WithAllowedEdges(prefixes ...netip.Prefix) HandlerOption {
	return func(h *TerminalHandler) {
		h.allowed = make([]netip.Prefix, 0, len(prefixes))
		for _, p := range prefixes {
			if p.IsValid() {
				h.allowed = append(h.allowed, p.Masked())
			}
		}
	}
}

// WithHandlerTokens replaces the token generator and the expiry after
// silence (default 3 × keepalive).
func WithHandlerTokens(gen func(sn, ip string) string, expiry time.Duration) HandlerOption {
	return func(h *TerminalHandler) {
		var ex func(time.Duration) time.Duration
		if expiry > 0 {
			ex = func(time.Duration) time.Duration { return expiry }
		}
		h.tokens = newTokenTable(gen, ex)
	}
}

// WithHandlerBodyLimit sets the largest request body (default 8 MiB).
func WithHandlerBodyLimit(n int64) HandlerOption { return func(h *TerminalHandler) { h.maxJSON = n } }

// TerminalHandler serves the edge → terminal interfaces on a terminal. A
// backend error is answered 99 with its text; a backend returns a
// *CodeError to answer another code.
type TerminalHandler struct {
	b       Backend
	mux     *http.ServeMux
	tokens  *tokenTable
	allowed []netip.Prefix // socket addresses an edge may call from
	maxJSON int64

	requests, refused, connects, foreign atomic.Uint64

	rateMu sync.Mutex
	rates  map[string]*bucket
}

// bucket is a token bucket of 100 requests per second (B.2, C.B.40).
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token for path when it is rate limited.
func (h *TerminalHandler) allow(path string) bool {
	if !rateLimited(path) {
		return true
	}
	h.rateMu.Lock()
	defer h.rateMu.Unlock()
	now := time.Now()
	b := h.rates[path]
	if b == nil {
		b = &bucket{tokens: 100, last: now}
		h.rates[path] = b
	}
	b.tokens = min(100, b.tokens+now.Sub(b.last).Seconds()*100)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// NewTerminalHandler returns the handler for b.
func NewTerminalHandler(b Backend, opts ...HandlerOption) *TerminalHandler {
	h := &TerminalHandler{b: b, mux: http.NewServeMux(), maxJSON: DefaultMaxJSONBytes, rates: map[string]*bucket{}}
	for _, o := range opts {
		o(h)
	}
	if h.tokens == nil {
		h.tokens = newTokenTable(nil, nil)
	}
	// Keyed by peer address: bounded even under a wide allow-list.
	h.tokens.max = maxEdgePeers
	if h.allowed == nil {
		h.allowed = loopbackOnly
	}
	route := func(path string, f http.HandlerFunc) { h.mux.HandleFunc(path, postOnly(f)) }
	route(PathConnect, h.connect)
	route(PathKeepalive, serve(h, func(ctx context.Context, r *TokenRequest) (any, error) { return nil, nil }))
	route(PathRemoteOpen, serve(h, func(ctx context.Context, r *TokenRequest) (any, error) { return nil, h.b.RemoteOpen(ctx) }))
	route(PathSetKeepOpen, serve(h, func(ctx context.Context, r *SetKeepOpenRequest) (any, error) {
		k, ok := h.b.(KeepOpenBackend)
		if !ok {
			return nil, errUnsupported
		}
		return nil, k.SetKeepOpen(ctx, r.Data.KeepOpen.KeepOpen == 1)
	}))
	route(PathGetKeepOpen, serve(h, func(ctx context.Context, r *TokenRequest) (any, error) {
		k, ok := h.b.(KeepOpenBackend)
		if !ok {
			return nil, errUnsupported
		}
		on, err := k.KeepOpen(ctx)
		v := Int(0)
		if on {
			v = 1
		}
		return KeepOpen{v}, err
	}))
	route(PathSetTempCheckRule, serve(h, func(ctx context.Context, r *SetTempRuleRequest) (any, error) {
		t, ok := h.b.(TempRuleBackend)
		if !ok {
			return nil, errUnsupported
		}
		return nil, t.SetTempRule(ctx, *r.Data)
	}))
	route(PathSyncFaces, serve(h, func(ctx context.Context, r *SyncFacesRequest) (any, error) {
		f, ok := h.b.(FaceBackend)
		if !ok {
			return nil, errUnsupported
		}
		return nil, f.SyncFaces(ctx, r.Faces)
	}))
	route(PathQueryFaces, serve(h, func(ctx context.Context, r *QueryFacesRequest) (any, error) {
		f, ok := h.b.(FaceBackend)
		if !ok {
			return nil, errUnsupported
		}
		page, size := 0, 0
		if r.CurrentPage != nil {
			page = int(*r.CurrentPage)
			size = 200
			if r.PageSize != nil {
				size = int(*r.PageSize)
			}
		}
		return f.QueryFaces(ctx, page, size)
	}))
	for path, ble := range map[string]bool{PathCardSync: false, PathBLESync: true} {
		route(path, serve(h, func(ctx context.Context, r *PermissionsRequest) (any, error) {
			p, ok := h.b.(PermissionBackend)
			if !ok {
				return nil, errUnsupported
			}
			return nil, p.SyncPermissions(ctx, ble, r.Permissions)
		}))
	}
	route(PathSyncSipNumber, serve(h, func(ctx context.Context, r *SipNumberRequest) (any, error) {
		i, ok := h.b.(IntercomBackend)
		if !ok {
			return nil, errUnsupported
		}
		return nil, i.SyncSipNumber(ctx, *r)
	}))
	route(PathVerifyPhoneResult, serve(h, func(ctx context.Context, r *PhoneResultRequest) (any, error) {
		i, ok := h.b.(IntercomBackend)
		if !ok {
			return nil, errUnsupported
		}
		return nil, i.PhoneResult(ctx, r.PhoneNumber, *r.Result == 0)
	}))
	elev := func(ctx context.Context) (ElevatorBackend, error) {
		e, ok := h.b.(ElevatorBackend)
		if !ok {
			return nil, errUnsupported
		}
		return e, nil
	}
	route(PathGetRunState, serve(h, func(ctx context.Context, r *GetRunStateRequest) (any, error) {
		e, err := elev(ctx)
		if err != nil {
			return nil, err
		}
		cars, err := e.RunState(ctx, r.IDs())
		if cars == nil {
			cars = []CarState{}
		}
		return cars, err
	}))
	route(PathReleaseFloors, serve(h, func(ctx context.Context, r *ReleaseFloorsRequest) (any, error) {
		e, err := elev(ctx)
		if err != nil {
			return nil, err
		}
		return nil, e.ReleaseFloors(ctx, *r)
	}))
	route(PathActivateFloor, serve(h, func(ctx context.Context, r *ActivateFloorRequest) (any, error) {
		e, err := elev(ctx)
		if err != nil {
			return nil, err
		}
		return nil, e.ActivateFloor(ctx, *r)
	}))
	route(PathCallElevator, serve(h, func(ctx context.Context, r *CallRequest) (any, error) {
		e, err := elev(ctx)
		if err != nil {
			return nil, err
		}
		return nil, e.Call(ctx, *r)
	}))
	route(PathElevatorInfo, serve(h, func(ctx context.Context, r *ElevatorHeader) (any, error) {
		e, err := elev(ctx)
		if err != nil {
			return nil, err
		}
		return e.Info(ctx)
	}))
	rules := func() (RuleBackend, error) {
		rb, ok := h.b.(RuleBackend)
		if !ok {
			return nil, errUnsupported
		}
		return rb, nil
	}
	route(PathRuleSync, serve(h, func(ctx context.Context, r *RuleSyncRequest) (any, error) {
		rb, err := rules()
		if err != nil {
			return nil, err
		}
		return nil, rb.SyncRules(ctx, r.Rules)
	}))
	route(PathRuleGet, serve(h, func(ctx context.Context, r *RuleGetRequest) (any, error) {
		rb, err := rules()
		if err != nil {
			return nil, err
		}
		page, size := 0, 0
		if r.CurrentPage != nil {
			page, size = int(*r.CurrentPage), 200
			if r.PageSize != nil {
				size = int(*r.PageSize)
			}
		}
		return rb.Rules(ctx, page, size)
	}))
	route(PathSetAvailability, serve(h, func(ctx context.Context, r *AvailabilityRequest) (any, error) {
		rb, err := rules()
		if err != nil {
			return nil, err
		}
		return nil, rb.SetAvailability(ctx, r.Availability == AvailabilityEnable)
	}))
	route(PathGetAvailability, serve(h, func(ctx context.Context, r *ElevatorHeader) (any, error) {
		rb, err := rules()
		if err != nil {
			return nil, err
		}
		on, err := rb.Availability(ctx)
		a := AvailabilityDisable
		if on {
			a = AvailabilityEnable
		}
		return AvailabilityData{a}, err
	}))
	return h
}

// maxEdgePeers bounds the edges a terminal holds tokens for (it has one).
const maxEdgePeers = 16

var errUnsupported = &CodeError{Code: CodeOther, Message: MsgUnsupported}

// ServeHTTP implements http.Handler. A caller outside the allowed edge
// addresses is answered code 7 before anything else, body unread.
func (h *TerminalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if a, ok := peerAddr(r); !ok || !peerAllowed(a, h.allowed) {
		h.foreign.Add(1)
		h.refuse(w, &CodeError{Code: CodeIllegalDevice, Message: MsgIllegal})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Foreign counts requests refused because they came from an address that
// is not an allowed edge, or bore a token issued to another address.
func (h *TerminalHandler) Foreign() uint64 { return h.foreign.Load() }

// Invalidate drops every token, as a reboot does: the edge gets code 4 and
// connects again.
func (h *TerminalHandler) Invalidate() {
	h.tokens.expireAll()
}

// Connects counts accepted /connect requests.
func (h *TerminalHandler) Connects() uint64 { return h.connects.Load() }

func (h *TerminalHandler) connect(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, h.maxJSON)
	if err != nil {
		h.refuse(w, err)
		return
	}
	req, err := Decode[ConnectRequest](body)
	if err != nil {
		h.refuse(w, err)
		return
	}
	if err := VerifySign(req); err != nil {
		if err == ErrBadSign {
			err = &CodeError{Code: CodeBadSign, Message: MsgBadSign}
		}
		h.refuse(w, err)
		return
	}
	peer, _ := peerAddr(r) // checked in ServeHTTP
	ka := time.Duration(min(max(int64(req.Keepalive), MinKeepalive), MaxKeepalive)) * time.Second
	// Keyed by the socket address, not the claimed sn: one token per
	// allowed edge host, so the table is bounded by the allow-list and one
	// edge cannot replace another's token.
	tok := h.tokens.issue(peer.String(), peer.String(), peer, ka)
	h.connects.Add(1)
	writeResp(w, CodeOK, MsgSuccess, ConnectData{Token: tok})
}

func (h *TerminalHandler) refuse(w http.ResponseWriter, err error) {
	h.refused.Add(1)
	writeErr(w, err)
}

// tokenOf reads the token of any request type.
type tokened interface{ tokenValue() string }

func (r *TokenRequest) tokenValue() string       { return r.Token }
func (r *SetKeepOpenRequest) tokenValue() string { return r.Token }
func (r *SetTempRuleRequest) tokenValue() string { return r.Token }
func (r *SyncFacesRequest) tokenValue() string   { return r.Token }
func (r *QueryFacesRequest) tokenValue() string  { return r.Token }
func (r *PermissionsRequest) tokenValue() string { return r.Token }
func (r *SipNumberRequest) tokenValue() string   { return r.Token }
func (r *PhoneResultRequest) tokenValue() string { return r.Token }
func (h *ElevatorHeader) tokenValue() string     { return h.Token }

// serve is the shape of every device-side interface: decode, check the
// token (4), validate (5), run, answer.
func serve[T any, P interface {
	*T
	Validator
	tokened
}](h *TerminalHandler, run func(ctx context.Context, r P) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, h.maxJSON)
		if err != nil {
			h.refuse(w, err)
			return
		}
		req := P(new(T))
		if _, err := decodeObject(body, req); err != nil {
			h.refuse(w, err)
			return
		}
		peer, _ := peerAddr(r) // checked in ServeHTTP
		switch _, st := h.tokens.check(req.tokenValue(), peer); st {
		case tokenForeign:
			h.foreign.Add(1)
			h.refuse(w, &CodeError{Code: CodeIllegalDevice, Message: MsgIllegal})
			return
		case tokenInvalid:
			h.refuse(w, &CodeError{Code: CodeTokenInvalid, Message: MsgOffline})
			return
		}
		if err := req.Validate(); err != nil {
			h.refuse(w, err)
			return
		}
		if !h.allow(r.URL.Path) {
			h.refuse(w, &CodeError{Code: CodeOther, Message: MsgRateLimited})
			return
		}
		data, err := run(r.Context(), req)
		if err != nil {
			h.refuse(w, err)
			return
		}
		writeResp(w, CodeOK, MsgSuccess, data)
	}
}
