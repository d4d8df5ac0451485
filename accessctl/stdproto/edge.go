package stdproto

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
	"github.com/menjin/menjin/transport/backoff"
)

// Platform is the DeviceRef.Platform and Event.Platform of this driver.
const Platform = "stdproto"

// KindElevatorState is the kind of the events that carry an elevator
// controller's car states (/elevator/reportRunState). The core has no kind
// for them; the typed states are in Event.Raw and in ElevatorStates.
const KindElevatorState accessctl.EventKind = "elevator_state"

// TerminalConfig provisions a terminal on the edge: who may connect and
// where to call it back (spec B.3 rule 1).
type TerminalConfig struct {
	SN   string // the terminal's sn
	Addr string // "ip:port" of the terminal's own server, for edge → terminal calls
	// IP is the ip the terminal must state in /connect, and the address
	// its requests must come from unless PeerIP says otherwise; default:
	// Addr's host. An IP literal.
	IP string
	// PeerIP is the socket address the terminal's requests come from when
	// it differs from IP (NAT); default IP. The edge checks it on /connect
	// and on every report: it is what authenticates the terminal, since
	// the wire carries no secret.
	PeerIP    string
	Name      string
	Site      accessctl.SiteRef
	Direction accessctl.Direction
}

// FeatureExtractor turns a face photo into the feature vector a terminal
// compares with "the same algorithm model as the edge" (B.1). The protocol
// syncs features, never photos; without an extractor PutGrant cannot send
// a face and fails with ErrUnsupported.
type FeatureExtractor func(ctx context.Context, face accessctl.Image) ([]float64, error)

// IntercomHandler answers a terminal's intercom questions (B.10.2–3). A nil
// handler answers "unsupported".
type IntercomHandler interface {
	// GroupID maps a room to the SIP group to call.
	GroupID(ctx context.Context, sn, roomID string) (string, error)
	// CheckPhone takes a phone number to verify; the verdict goes back
	// later with Terminal.Client().VerifyPhoneResult.
	CheckPhone(ctx context.Context, sn, phone string) error
}

// EdgeStats counts what an Edge did.
type EdgeStats struct {
	Requests   uint64         // requests routed
	Connects   uint64         // accepted /connect
	Refused    map[int]uint64 // answers with a non-zero code, by code
	Events     uint64         // events the sink accepted
	SinkErrors uint64         // events the sink refused (the terminal was told to resend, where it can)
	Repaired   uint64         // bodies that needed the lenient decoder
	Decisions  uint64         // /recognize and /qrcode answered
	Online     int            // terminals online now
	// Foreign counts requests refused (code 7) because their socket
	// address is not the provisioned IP of the terminal they claim to be,
	// or of any terminal.
	Foreign uint64
	// SnapshotsDropped counts pass events delivered without the photo the
	// terminal sent (not a JPEG or PNG, or too large): the pass is kept.
	SnapshotsDropped uint64
	Delivery         accessctl.DeliveryStats // every event handed to the sink, status included
	Links            map[string]LinkStats    // edge → terminal, by sn
}

type options struct {
	sink         accessctl.EventSink
	recognizer   accessctl.Decider
	qrDecider    accessctl.Decider
	intercom     IntercomHandler
	extractor    FeatureExtractor
	identity     Identity
	hc           *http.Client
	skew         time.Duration
	offlineAfter time.Duration
	sweep        time.Duration
	tokenGen     func(sn, ip string) string
	status       func(sn string, online bool)
	onError      func(sn string, err error)
	sip          func(sn string) (SipNumberRequest, bool)
	maxJSON      int64
	maxForm      int64
	maxPhoto     int64
	retry        backoff.Policy
	resync       bool
	log          *slog.Logger
	platform     string
	decideTO     time.Duration
	eventTO      time.Duration
	tempRule     *TempRule
	ledger       accessctl.Ledger
}

// Option configures an Edge.
type Option func(*options)

// WithSink delivers events (pass, alarm, online, offline, elevator state)
// to s. The terminal is answered success only after s accepted the event.
func WithSink(s accessctl.EventSink) Option { return func(o *options) { o.sink = s } }

// WithRecognizer answers /recognize (edge-side face comparison) with d. The
// request's Credential is a CredFace with the photo.
func WithRecognizer(d accessctl.Decider) Option { return func(o *options) { o.recognizer = d } }

// WithQRDecider answers /qrcode with d. The request's Credential is a
// CredQRCode with the scanned text in Value.
func WithQRDecider(d accessctl.Decider) Option { return func(o *options) { o.qrDecider = d } }

// WithIntercom answers getGroupId and checkPhoneNumber with h.
func WithIntercom(h IntercomHandler) Option { return func(o *options) { o.intercom = h } }

// WithFeatureExtractor lets PutGrant sync faces.
func WithFeatureExtractor(f FeatureExtractor) Option { return func(o *options) { o.extractor = f } }

// WithIdentity is what the edge says in its own /connect to terminals
// (default sn "menjin-edge", the local IP routing to the terminal, a zero
// MAC, keepalive 30 s, md5).
func WithIdentity(id Identity) Option { return func(o *options) { o.identity = id } }

// WithHTTPClient replaces the client used for edge → terminal calls.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithClockSkew refuses a /connect whose time is further than d from the
// edge's clock, with code 5. Off by default (spec D.12: terminals boot with
// wrong clocks, and the sign has no secret to protect).
func WithClockSkew(d time.Duration) Option { return func(o *options) { o.skew = d } }

// WithOfflineAfter fixes the silence after which a terminal is offline and
// its token invalid. Default: 3 × the keepalive it promised (B.3).
func WithOfflineAfter(d time.Duration) Option { return func(o *options) { o.offlineAfter = d } }

// WithSweepInterval sets how often silence is checked (default 1 s).
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweep = d } }

// WithTokenGenerator replaces the random token generator (tests that replay
// the source's examples use the example's token).
func WithTokenGenerator(f func(sn, ip string) string) Option {
	return func(o *options) { o.tokenGen = f }
}

// WithOnStatus is called when a terminal goes online or offline.
func WithOnStatus(f func(sn string, online bool)) Option {
	return func(o *options) { o.status = f }
}

// WithOnError is told what cannot be reported to a terminal: a sink
// refusing an online event or a decision's pass record, a failed
// connect-back or resync.
func WithOnError(f func(sn string, err error)) Option { return func(o *options) { o.onError = f } }

// WithSipAccount gives the SIP account to push after every link set-up
// (B.10.1); ok false: none.
func WithSipAccount(f func(sn string) (SipNumberRequest, bool)) Option {
	return func(o *options) { o.sip = f }
}

// WithBodyLimits sets the largest JSON body, multipart body and photo
// accepted (defaults 8 MiB, 4 MiB, 1 MiB).
func WithBodyLimits(json, multipart, photo int64) Option {
	return func(o *options) { o.maxJSON, o.maxForm, o.maxPhoto = json, multipart, photo }
}

// WithReconnectBackoff sets the connect-back retry delays (default 1 s
// doubling to 60 s, ±20 %).
func WithReconnectBackoff(minDelay, maxDelay time.Duration) Option {
	return func(o *options) { o.retry = backoff.Policy{Min: minDelay, Max: maxDelay, Factor: 2, Jitter: 0.2} }
}

// WithFaceResync turns the face-library query after every link set-up
// (B.3 rule 4) on or off (default on).
func WithFaceResync(on bool) Option { return func(o *options) { o.resync = on } }

// WithLogger logs to l (default: slog.Default(); nil discards). Tokens are
// never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTempCheckRule makes the edge refuse a /recognize whose temperature
// is outside the rule's bounds (B.7.1), with code 1 and a denied pass,
// before the recognizer is asked. A request without a temperature is
// decided as usual.
func WithTempCheckRule(r TempRule) Option { return func(o *options) { o.tempRule = &r } }

// WithLedger records the cards and Bluetooth cards pushed to each terminal
// in l (the protocol cannot read them back, C.B.22), so that RemoveGrant
// and the after-connect re-push still know them after a restart. Default:
// an accessctl.MemoryLedger, lost on restart; hosts pass store.DB.Ledger().
// An addition is recorded before it is pushed and a deletion forgotten only
// after the terminal confirmed it, so a crash at any point leaves the
// ledger holding at least what the terminal holds.
func WithLedger(l accessctl.Ledger) Option { return func(o *options) { o.ledger = l } }

// WithDecisionTimeout bounds a Decider call (default 3 s, B.3).
func WithDecisionTimeout(d time.Duration) Option { return func(o *options) { o.decideTO = d } }

// Edge is the edge server of the standard protocol: an http.Handler for
// every terminal → edge interface, the registry of provisioned terminals
// and their sessions, and an accessctl.Driver that hands out Terminal
// handles. Serve it on port 10000 with NewServer.
type Edge struct {
	o      options
	mux    *http.ServeMux
	tokens *tokenTable

	mu    sync.RWMutex
	terms map[string]*terminalState
	peers map[netip.Addr]int // provisioned IPs, by how many terminals use them

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	seq    atomic.Uint64
	resent resendIDs // ids of refused reports, for their resends
	// lv turns connects, keepalives and silence into online/offline events
	// (the one rule of accessctl/liveness); delivery counts all events.
	lv       *liveness.Tracker
	delivery accessctl.DeliveryCounter

	requests, connects, events, sinkErrors, repaired, decisions atomic.Uint64
	foreign, snapsDropped                                       atomic.Uint64
	refusedMu                                                   sync.Mutex
	refused                                                     map[int]uint64
}

// terminalState is the edge's view of one provisioned terminal.
type terminalState struct {
	cfg    TerminalConfig // SN is immutable; the rest is guarded by mu
	client atomic.Pointer[Client]
	kick   chan struct{} // connect back now

	mu        sync.Mutex
	online    bool
	since     time.Time
	ip, mac   string
	keepalive time.Duration
	looping   bool
	states    []CarState

	syncMu sync.Mutex                       // one grant sync at a time, in order (D.14)
	faces  map[string]FaceInfo              // what the terminal holds, from queryFaces and our pushes
	cards  map[string]map[string]pushedCard // person → card key → what was pushed
	owners map[string]string                // kind path + card key → person
	names  map[string]string                // person → name
}

// newClient is a client for st whose every new token wakes st's link loop,
// which then runs the after-connect duties (B.3 rule 4), whoever connected.
func (e *Edge) newClient(st *terminalState, addr string) *Client {
	c := NewClient(addr, e.o.identity, e.o.hc)
	c.link.onConnect = func() {
		select {
		case st.kick <- struct{}{}:
		default:
		}
	}
	return c
}

// cli is the current edge → terminal client.
func (st *terminalState) cli() *Client { return st.client.Load() }

// config is a copy of the provisioning.
func (st *terminalState) config() TerminalConfig {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cfg
}

// NewEdge returns an edge. Serve it with NewServer(":10000", edge) or mount
// it in a mux; provision terminals with Provision or Open.
func NewEdge(opts ...Option) *Edge {
	o := options{
		sink:     accessctl.Discard,
		sweep:    time.Second,
		maxJSON:  DefaultMaxJSONBytes,
		maxForm:  DefaultMaxMultipartBytes,
		maxPhoto: DefaultMaxPhotoBytes,
		retry:    backoff.Default,
		resync:   true,
		log:      slog.Default(),
		decideTO: DefaultDecideTimeout,
		eventTO:  5 * time.Second,
		identity: Identity{SN: "menjin-edge", MAC: "00-00-00-00-00-00", Keepalive: 30 * time.Second},
	}
	for _, f := range opts {
		f(&o)
	}
	if o.hc == nil {
		o.hc = NewHTTPClient()
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.ledger == nil {
		o.ledger = accessctl.NewMemoryLedger()
	}
	e := &Edge{o: o, terms: map[string]*terminalState{}, peers: map[netip.Addr]int{}, refused: map[int]uint64{}}
	if e.o.sink == nil {
		e.o.sink = accessctl.Discard
	}
	// Silence is the token table's rule (3 × keepalive, B.3), applied by the
	// sweeper; the tracker only turns it into events, so it has no timer.
	e.lv = liveness.New(e.o.sink, liveness.WithTimeout(100*365*24*time.Hour), liveness.WithDelivery(&e.delivery),
		liveness.WithEvent(e.decorate))
	var expiry func(time.Duration) time.Duration
	if o.offlineAfter > 0 {
		expiry = func(time.Duration) time.Duration { return o.offlineAfter }
	}
	e.tokens = newTokenTable(o.tokenGen, expiry)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.mux = http.NewServeMux()
	for path, h := range map[string]http.HandlerFunc{
		PathConnect:          e.handleConnect,
		PathKeepalive:        e.handleKeepalive,
		PathAlarmEvent:       e.handleAlarm,
		PathRecognize:        e.handleRecognize,
		PathFacePassEvent:    e.handleFacePass,
		PathQRCode:           e.handleQRCode,
		PathCardPassEvent:    e.handleCardPass(accessctl.MethodCard),
		PathBLEPassEvent:     e.handleCardPass(accessctl.MethodBLECard),
		PathGetGroupID:       e.handleGroupID,
		PathCheckPhoneNumber: e.handleCheckPhone,
		PathReportOpenDoor:   e.handleOpenDoorReport,
		PathReportRunState:   e.handleRunState,
		PathRuleReport:       e.handleRuleReport,
	} {
		e.mux.HandleFunc(path, postOnly(h))
	}
	e.wg.Add(1)
	go e.sweeper()
	return e
}

// ServeHTTP implements http.Handler. A request whose socket address is
// no provisioned terminal's IP is answered code 7 before its body is read.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	a, ok := peerAddr(r)
	if ok {
		e.mu.RLock()
		ok = e.peers[a] > 0
		e.mu.RUnlock()
	}
	if !ok {
		// Often a terminal not provisioned yet: counted, logged quietly.
		e.foreign.Add(1)
		e.o.log.Info("stdproto: request refused, no terminal is provisioned at its address", "path", r.URL.Path, "peer", r.RemoteAddr)
		e.refuse(w, CodeIllegalDevice, MsgIllegal)
		return
	}
	e.mux.ServeHTTP(w, r)
}

// foreignPeer refuses a request from an address that may not speak for
// the terminal (or any terminal): counted, logged without its token.
func (e *Edge) foreignPeer(w http.ResponseWriter, r *http.Request, sn, why string) {
	e.foreign.Add(1)
	e.o.log.Warn("stdproto: request refused, wrong source address", "path", r.URL.Path, "peer", r.RemoteAddr, "sn", sn, "why", why)
	e.refuse(w, CodeIllegalDevice, MsgIllegal)
}

// Provision allows a terminal to connect and tells where to call it back.
// Provisioning an SN again updates its addresses.
func (e *Edge) Provision(cfg TerminalConfig) error {
	if !ValidSN(cfg.SN) {
		return fmt.Errorf("%w: sn %q is not 4–32 of [A-Za-z0-9_-@.:]", accessctl.ErrInvalid, cfg.SN)
	}
	if cfg.Addr == "" {
		return fmt.Errorf("%w: terminal %s has no callback address", accessctl.ErrInvalid, cfg.SN)
	}
	if cfg.IP == "" {
		cfg.IP = hostOnly(cfg.Addr)
	}
	if cfg.PeerIP == "" {
		cfg.PeerIP = cfg.IP
	}
	ip, ok := parseIP(cfg.PeerIP)
	if !ok {
		return fmt.Errorf("%w: terminal %s: %q is not an IP address (its requests are authenticated by their source address)", accessctl.ErrInvalid, cfg.SN, cfg.PeerIP)
	}
	cfg.PeerIP = ip.String()
	if e.closed.Load() {
		return accessctl.ErrClosed
	}
	e.mu.Lock()
	st := e.terms[cfg.SN]
	if st == nil {
		e.mu.Unlock()
		return e.provisionNew(cfg, ip)
	}
	defer e.mu.Unlock()
	st.mu.Lock()
	same := st.cfg.Addr == cfg.Addr
	old := st.cfg.PeerIP
	st.cfg.Addr, st.cfg.IP, st.cfg.PeerIP, st.cfg.Name, st.cfg.Site, st.cfg.Direction = cfg.Addr, cfg.IP, cfg.PeerIP, cfg.Name, cfg.Site, cfg.Direction
	st.mu.Unlock()
	if !same {
		st.client.Store(e.newClient(st, cfg.Addr))
	}
	if old != cfg.PeerIP {
		e.unpeerLocked(old)
		e.peers[ip]++
		e.tokens.drop(cfg.SN) // its token was bound to the old address
	}
	return nil
}

// provisionNew adds a terminal with the cards the ledger says it holds.
func (e *Edge) provisionNew(cfg TerminalConfig, ip netip.Addr) error {
	st := &terminalState{
		cfg:    cfg,
		kick:   make(chan struct{}, 1),
		faces:  map[string]FaceInfo{},
		cards:  map[string]map[string]pushedCard{},
		owners: map[string]string{},
		names:  map[string]string{},
	}
	ctx, cancel := context.WithTimeout(e.ctx, DefaultCallTimeout)
	defer cancel()
	if err := e.loadLedger(ctx, st); err != nil {
		return err
	}
	e.mu.Lock()
	if e.terms[cfg.SN] != nil {
		e.mu.Unlock()
		return e.Provision(cfg) // provisioned meanwhile: update it
	}
	st.client.Store(e.newClient(st, cfg.Addr))
	e.terms[cfg.SN] = st
	e.peers[ip]++
	e.mu.Unlock()
	return nil
}

// unpeerLocked forgets one use of a provisioned IP. Callers hold e.mu.
func (e *Edge) unpeerLocked(ip string) {
	a, _ := parseIP(ip)
	if e.peers[a]--; e.peers[a] <= 0 {
		delete(e.peers, a)
	}
}

// Unprovision forgets a terminal: its token becomes invalid, its next
// /connect is refused with code 7.
func (e *Edge) Unprovision(sn string) {
	e.mu.Lock()
	st := e.terms[sn]
	delete(e.terms, sn)
	if st != nil {
		e.unpeerLocked(st.config().PeerIP)
	}
	e.mu.Unlock()
	e.tokens.drop(sn)
	if st != nil {
		e.setOnline(st, false, "unprovisioned")
	}
}

// Invalidate drops a terminal's token, as an edge restart does: its next
// request is answered code 4 and it must /connect again.
func (e *Edge) Invalidate(sn string) { e.tokens.drop(sn) }

func (e *Edge) state(sn string) *terminalState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.terms[sn]
}

// Terminal returns a handle for a provisioned terminal, online or not.
func (e *Edge) Terminal(sn string) (*Terminal, error) {
	st := e.state(sn)
	if st == nil {
		return nil, fmt.Errorf("%w: terminal %q is not provisioned", accessctl.ErrNotFound, sn)
	}
	return &Terminal{e: e, st: st}, nil
}

// Open implements accessctl.Driver: cfg.ID is the terminal's sn, cfg.Addr
// its "ip:port"; Params "ip" and "peer_ip" are TerminalConfig's IP and
// PeerIP. A terminal already provisioned keeps its address when cfg.Addr
// is empty.
func (e *Edge) Open(ctx context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Addr != "" {
		tc := TerminalConfig{SN: cfg.ID, Addr: cfg.Addr, IP: cfg.Params["ip"], PeerIP: cfg.Params["peer_ip"], Name: cfg.Name, Site: cfg.Site, Direction: cfg.Direction}
		if err := e.Provision(tc); err != nil {
			return nil, err
		}
	}
	return e.Terminal(cfg.ID)
}

// Devices implements accessctl.DeviceLister: every provisioned terminal
// with its status, by sn.
func (e *Edge) Devices(ctx context.Context) ([]accessctl.Status, error) {
	sns := e.SNs()
	sort.Strings(sns)
	out := make([]accessctl.Status, 0, len(sns))
	for _, sn := range sns {
		t, err := e.Terminal(sn)
		if err != nil {
			continue // removed meanwhile
		}
		st, err := t.Status(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}

// SNs lists the provisioned terminals.
func (e *Edge) SNs() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.terms))
	for sn := range e.terms {
		out = append(out, sn)
	}
	return out
}

// Stats returns the counters.
func (e *Edge) Stats() EdgeStats {
	s := EdgeStats{Delivery: e.delivery.Stats(), Requests: e.requests.Load(), Connects: e.connects.Load(), Events: e.events.Load(),
		SinkErrors: e.sinkErrors.Load(), Repaired: e.repaired.Load(), Decisions: e.decisions.Load(),
		Foreign: e.foreign.Load(), SnapshotsDropped: e.snapsDropped.Load(),
		Refused: map[int]uint64{}, Links: map[string]LinkStats{}}
	e.refusedMu.Lock()
	for k, v := range e.refused {
		s.Refused[k] = v
	}
	e.refusedMu.Unlock()
	e.mu.RLock()
	for sn, st := range e.terms {
		st.mu.Lock()
		if st.online {
			s.Online++
		}
		st.mu.Unlock()
		s.Links[sn] = st.cli().link.Stats()
	}
	e.mu.RUnlock()
	return s
}

// Close stops the edge's goroutines; it does not close the http.Server
// serving it. Terminals are reported offline.
func (e *Edge) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.cancel()
	e.wg.Wait()
	sts := e.states()
	for _, st := range sts {
		e.setOnline(st, false, "edge closed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.o.eventTO)
	defer cancel()
	_ = e.lv.Close(ctx) // what the sink still refuses is counted as dropped
	return nil
}

func (e *Edge) refuse(w http.ResponseWriter, code int, msg string) {
	e.refusedMu.Lock()
	e.refused[code]++
	e.refusedMu.Unlock()
	writeResp(w, code, msg, nil)
}

func (e *Edge) fail(w http.ResponseWriter, err error) {
	var ce *CodeError
	var pe *paramError
	switch {
	case errors.As(err, &ce):
		e.refuse(w, ce.Code, ce.Message)
	case errors.As(err, &pe):
		e.refuse(w, CodeBadParam, pe.msg)
	default:
		e.refuse(w, CodeOther, err.Error())
	}
}

func (e *Edge) reportErr(sn string, err error) {
	if e.o.onError != nil {
		e.o.onError(sn, err)
		return
	}
	e.o.log.Warn("stdproto edge", "sn", sn, "err", err)
}

// ---- /connect and liveness -------------------------------------------------

func (e *Edge) handleConnect(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, e.o.maxJSON)
	if err != nil {
		e.fail(w, err)
		return
	}
	var req ConnectRequest
	repaired, err := decodeObject(body, &req)
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		e.fail(w, err)
		return
	}
	if repaired {
		e.repaired.Add(1)
	}
	if err := VerifySign(&req); err != nil {
		if errors.Is(err, ErrBadSign) {
			e.refuse(w, CodeBadSign, MsgBadSign)
		} else {
			e.fail(w, err)
		}
		return
	}
	now := time.Now()
	if e.o.skew > 0 {
		if d := now.Sub(time.Unix(req.Time.Int64(), 0)); d > e.o.skew || d < -e.o.skew {
			e.refuse(w, CodeBadParam, fmt.Sprintf("time %s is %v away from the edge's clock (window ±%v)", req.Time, d.Round(time.Second), e.o.skew))
			return
		}
	}
	st := e.state(req.SN)
	if st == nil {
		e.refuse(w, CodeIllegalDevice, MsgIllegal)
		e.o.log.Info("stdproto: /connect from an unprovisioned terminal", "sn", req.SN, "ip", req.IP)
		return
	}
	st.mu.Lock()
	wantIP, wantPeer := st.cfg.IP, st.cfg.PeerIP
	st.mu.Unlock()
	// The body's ip is a claim; the socket address is the proof.
	peer, _ := peerAddr(r)
	if peer.String() != wantPeer {
		e.foreignPeer(w, r, req.SN, "/connect of a provisioned terminal from another address than its own, "+wantPeer)
		return
	}
	if req.IP != wantIP {
		e.refuse(w, CodeIllegalDevice, MsgIllegal)
		e.o.log.Info("stdproto: /connect ip differs from the provisioned one", "sn", req.SN, "ip", req.IP, "want", wantIP)
		return
	}
	ka := time.Duration(min(max(int64(req.Keepalive), MinKeepalive), MaxKeepalive)) * time.Second
	tok := e.tokens.issue(req.SN, req.IP, peer, ka)
	st.mu.Lock()
	st.ip, st.mac, st.keepalive = req.IP, req.MAC, ka
	st.mu.Unlock()
	e.connects.Add(1)
	// Online before the terminal holds its token, so that a terminal that
	// is connected is never an offline device; announced after the answer.
	now, changed := e.flipOnline(st, true)
	writeResp(w, CodeOK, MsgSuccess, ConnectData{Token: tok})
	// The terminal may have rebooted and lost the edge's token: connect back.
	st.cli().link.Invalidate()
	if changed {
		e.announce(st, true, now, "connect")
	} else {
		// connected again while believed online (a reboot inside the
		// silence window): a new session, a new online event
		e.emitStatus(st, true, "connect")
	}
	e.startLink(st)
}

// auth checks a token and that it comes from the address it was issued
// to; on failure it answers code 4 (unknown or expired token) or 7 (a
// token replayed from another address).
func (e *Edge) auth(w http.ResponseWriter, r *http.Request, tok string) *terminalState {
	peer, _ := peerAddr(r)
	sn, status := e.tokens.check(tok, peer)
	if status == tokenForeign {
		e.foreignPeer(w, r, sn, "token used from another address than the one that connected")
		return nil
	}
	var st *terminalState
	if status == tokenOK {
		st = e.state(sn)
	}
	if st == nil {
		e.refuse(w, CodeTokenInvalid, MsgOffline)
		return nil
	}
	return st
}

func (e *Edge) handleKeepalive(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	st, _ := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	writeResp(w, CodeOK, "", nil)
	ctx, cancel := context.WithTimeout(r.Context(), e.o.eventTO)
	defer cancel()
	if err := e.lv.Seen(ctx, e.ref(st)); err != nil { // retries an online the sink refused
		e.reportErr(st.cfg.SN, fmt.Errorf("online event not accepted by the sink: %w", err))
	}
}

// decodeAuthed reads, decodes, authenticates and validates a JSON request.
// It answers the terminal itself and returns nil on any failure.
func (e *Edge) decodeAuthed(w http.ResponseWriter, r *http.Request, v Validator, token func() string) (*terminalState, []byte) {
	body, err := readBody(w, r, e.o.maxJSON)
	if err != nil {
		e.fail(w, err)
		return nil, nil
	}
	repaired, err := decodeObject(body, v)
	if err != nil {
		e.fail(w, err)
		return nil, nil
	}
	if repaired {
		e.repaired.Add(1)
	}
	st := e.auth(w, r, token())
	if st == nil {
		return nil, nil
	}
	if err := v.Validate(); err != nil {
		e.fail(w, err)
		return nil, nil
	}
	if !json.Valid(body) {
		body = nil // Event.Raw must be JSON; the repaired form is in the typed fields
	}
	return st, body
}

func (e *Edge) setOnline(st *terminalState, online bool, why string) {
	if now, changed := e.flipOnline(st, online); changed {
		e.announce(st, online, now, why)
	}
}

// flipOnline sets the flag; changed reports a transition.
func (e *Edge) flipOnline(st *terminalState, online bool) (time.Time, bool) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.online == online {
		return now, false
	}
	st.online, st.since = online, now
	return now, true
}

// announce tells the status handler and the sink about a transition.
func (e *Edge) announce(st *terminalState, online bool, now time.Time, why string) {
	if !online {
		st.cli().link.Invalidate()
	}
	if e.o.status != nil {
		e.o.status(st.cfg.SN, online)
	}
	e.emitStatus(st, online, why)
}

// emitStatus hands a session change to the tracker. A refused online is
// tried again at the next keepalive, a refused offline at the next sweep.
func (e *Edge) emitStatus(st *terminalState, online bool, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.o.eventTO)
	defer cancel()
	kind, err := accessctl.KindOnline, error(nil)
	if online {
		err = e.lv.Connected(ctx, e.ref(st))
	} else {
		kind, err = accessctl.KindOffline, e.lv.Lost(ctx, e.ref(st))
	}
	if err != nil {
		e.reportErr(st.cfg.SN, fmt.Errorf("%s event (%s) not accepted by the sink: %w", kind, why, err))
	}
}

func (e *Edge) ref(st *terminalState) accessctl.DeviceRef {
	return accessctl.DeviceRef{Platform: Platform, ID: st.cfg.SN}
}

// decorate completes the tracker's status events with the terminal's site
// and what it told at /connect.
func (e *Edge) decorate(ev *accessctl.Event) {
	ev.Platform = Platform
	st := e.state(ev.Device.ID)
	if st == nil || ev.Status == nil {
		return
	}
	ev.Site = st.config().Site
	full, _ := (&Terminal{e: e, st: st}).Status(context.Background())
	ev.Status.Info = full.Info
}

// sweeper turns silent terminals offline (B.3: 3 × keepalive).
func (e *Edge) sweeper() {
	defer e.wg.Done()
	t := time.NewTicker(e.o.sweep)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		for _, sn := range e.tokens.expire() {
			if st := e.state(sn); st != nil {
				e.setOnline(st, false, "keepalive silence")
			}
		}
		e.retryOffline()
	}
}

// states lists the terminals the edge knows.
func (e *Edge) states() []*terminalState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	sts := make([]*terminalState, 0, len(e.terms))
	for _, st := range e.terms {
		sts = append(sts, st)
	}
	return sts
}

// retryOffline reports offline again the terminals whose offline event the
// sink refused (the tracker still has them online).
func (e *Edge) retryOffline() {
	sts := e.states()
	for _, st := range sts {
		st.mu.Lock()
		online := st.online
		st.mu.Unlock()
		if seen, ok := e.lv.Status(e.ref(st)); ok && seen.Online && !online {
			e.emitStatus(st, false, "retry")
		}
	}
}

// startLink runs the edge → terminal side of st: connect back (with
// back-off), push the SIP account, query the face library, keep alive.
func (e *Edge) startLink(st *terminalState) {
	select {
	case st.kick <- struct{}{}:
	default:
	}
	st.mu.Lock()
	if st.looping || e.closed.Load() {
		st.mu.Unlock()
		return
	}
	st.looping = true
	st.mu.Unlock()
	e.wg.Add(1)
	go e.linkLoop(st)
}

func (e *Edge) linkLoop(st *terminalState) {
	defer e.wg.Done()
	attempt := 0
	var (
		doneLink *Link  // the link and its connect count afterLink last ran for
		done     uint64 // (a re-provisioned terminal gets a new link)
	)
	for {
		// Deciding to stop and clearing looping under one lock: a connect
		// racing with the exit starts a new loop (startLink).
		st.mu.Lock()
		ka := st.keepalive
		if !st.online || e.ctx.Err() != nil {
			st.looping = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		link := st.cli().link
		var wait time.Duration
		if !link.Connected() {
			ctx, cancel := context.WithTimeout(e.ctx, DefaultCallTimeout)
			err := link.Connect(ctx)
			cancel()
			if err != nil {
				wait = e.o.retry.Delay(attempt)
				attempt++
				e.reportErr(st.cfg.SN, fmt.Errorf("connect back to %s: %w", st.config().Addr, err))
			} else {
				attempt = 0
			}
		} else {
			ctx, cancel := context.WithTimeout(e.ctx, DefaultCallTimeout)
			if err := link.Keepalive(ctx); err != nil && e.ctx.Err() == nil {
				e.reportErr(st.cfg.SN, fmt.Errorf("keepalive to terminal: %w", err))
			}
			cancel()
		}
		// A new token — ours, or one a call renewed after code 4 — means
		// the terminal may have rebooted: push again what it may have lost.
		if n := link.Stats().Connects; (n != done || link != doneLink) && link.Connected() {
			done, doneLink = n, link
			e.afterLink(st)
		}
		if wait <= 0 {
			wait = e.o.identity.Keepalive
		}
		if wait <= 0 {
			wait = min(ka, 30*time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-e.ctx.Done():
			t.Stop()
		case <-st.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// afterLink runs B.3 rule 4 after the edge's /connect succeeded.
func (e *Edge) afterLink(st *terminalState) {
	sn := st.cfg.SN
	if e.o.sip != nil {
		if acct, ok := e.o.sip(sn); ok {
			ctx, cancel := context.WithTimeout(e.ctx, DefaultCallTimeout)
			if err := st.cli().SyncSipNumber(ctx, acct); err != nil {
				e.reportErr(sn, fmt.Errorf("pushing the SIP account: %w", err))
			}
			cancel()
		}
	}
	// Cards cannot be read back (C.B.22): re-push every card the edge
	// pushed, as upserts, in case the terminal lost them (D.8).
	if err := e.repushCards(st); err != nil {
		e.reportErr(sn, fmt.Errorf("re-pushing cards: %w", err))
	}
	if e.o.resync {
		ctx, cancel := context.WithTimeout(e.ctx, 4*DefaultFaceTimeout)
		faces, err := st.cli().AllFaces(ctx)
		cancel()
		switch {
		case errors.Is(err, accessctl.ErrUnsupported):
		case err != nil:
			e.reportErr(sn, fmt.Errorf("querying the face library: %w", err))
		default:
			st.syncMu.Lock()
			st.faces = make(map[string]FaceInfo, len(faces))
			for _, f := range faces {
				st.faces[f.FaceID] = f
			}
			st.syncMu.Unlock()
		}
	}
}

// pushedCard is a whitelist entry the edge pushed to a terminal.
type pushedCard struct {
	path string // PathCardSync or PathBLESync
	perm Permission
}

// repushCards sends the edge's record of st's cards and Bluetooth cards.
func (e *Edge) repushCards(st *terminalState) error {
	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	lists := map[string][]Permission{}
	for _, cards := range st.cards {
		for _, c := range cards {
			lists[c.path] = append(lists[c.path], c.perm)
		}
	}
	var errs []error
	for path, perms := range lists {
		ctx, cancel := context.WithTimeout(e.ctx, time.Duration(len(perms)/MaxPermsPerSync+1)*DefaultCallTimeout)
		_, err := st.cli().syncPerms(ctx, path, perms)
		cancel()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ---- events ---------------------------------------------------------------

func (e *Edge) event(st *terminalState, kind accessctl.EventKind, now time.Time, raw []byte) accessctl.Event {
	return accessctl.Event{
		ID:         st.cfg.SN + "-" + strconv.FormatInt(now.UnixNano(), 36) + "-" + strconv.FormatUint(e.seq.Add(1), 36),
		Kind:       kind,
		Platform:   Platform,
		Site:       st.config().Site,
		Device:     accessctl.DeviceRef{Platform: Platform, ID: st.cfg.SN},
		OccurredAt: now,
		TimeSource: accessctl.TimeReceipt, // the protocol's events carry no time (C.B.21)
		ReceivedAt: now,
		Raw:        raw,
	}
}

func (e *Edge) deliver(ctx context.Context, ev accessctl.Event) error {
	if err := e.delivery.Deliver(ctx, e.o.sink, ev); err != nil {
		e.sinkErrors.Add(1)
		return err
	}
	e.events.Add(1)
	return nil
}

// deliverOrRefuse delivers a terminal's report; if the sink refuses it the
// terminal is answered 99 so that it reports again (never lose an event),
// and the resend is delivered under the refused event's id. data, if not
// nil, builds the answer from the event id.
func (e *Edge) deliverOrRefuse(w http.ResponseWriter, r *http.Request, ev accessctl.Event, data func(id string) any) {
	ctx, cancel := context.WithTimeout(r.Context(), e.o.eventTO)
	defer cancel()
	key := resendKey(ev)
	if id, ok := e.resent.take(key); ok {
		ev.ID = id
	}
	if err := e.deliver(ctx, ev); err != nil {
		e.resent.put(key, ev.ID)
		e.refuse(w, CodeOther, "event not accepted, send it again: "+err.Error())
		return
	}
	var d any
	if data != nil {
		d = data(ev.ID)
	}
	writeResp(w, CodeOK, MsgSuccess, d)
}

// maxResends bounds the refused reports remembered (oldest forgotten first).
const maxResends = 1024

// resendIDs remembers the ids of refused reports by content. The protocol
// carries no event id, so a terminal's resend is known only by being the
// same report: it gets the refused event's id, and a sink that dedupes by
// id sees one event. A report the sink accepted is forgotten, so a second
// identical pass (the same card twice) is a new event.
type resendIDs struct {
	mu    sync.Mutex
	ids   map[[32]byte]string
	order [][32]byte
}

func resendKey(ev accessctl.Event) [32]byte {
	h := sha256.New()
	h.Write([]byte(ev.Device.ID + "\x00" + string(ev.Kind) + "\x00"))
	h.Write(ev.Raw)
	if ev.Pass != nil && ev.Pass.Snapshot != nil {
		h.Write(ev.Pass.Snapshot.Data)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (r *resendIDs) take(k [32]byte) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.ids[k]
	if ok {
		delete(r.ids, k) // its order entry is skipped when it comes up
	}
	return id, ok
}

func (r *resendIDs) put(k [32]byte, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[[32]byte]string{}
	}
	for len(r.order) >= maxResends {
		delete(r.ids, r.order[0])
		r.order = r.order[1:]
	}
	r.ids[k] = id
	r.order = append(r.order, k)
}

func (e *Edge) passEvent(st *terminalState, raw []byte, p accessctl.PassEvent) accessctl.Event {
	ev := e.event(st, accessctl.KindPass, time.Now(), raw)
	p.Direction = st.config().Direction
	ev.Pass = &p
	return ev
}

func (e *Edge) handleAlarm(w http.ResponseWriter, r *http.Request) {
	var req AlarmRequest
	st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	t := int(*req.AlarmType)
	msg := AlarmName(t)
	if req.CardID != "" {
		msg += ": card " + req.CardID
	}
	ev := e.event(st, accessctl.KindAlarm, time.Now(), raw)
	ev.Alarm = &accessctl.Alarm{Type: strconv.Itoa(t), Message: msg}
	e.deliverOrRefuse(w, r, ev, nil)
}
