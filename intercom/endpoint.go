package intercom

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/menjin/menjin/accessctl"
)

type options struct {
	stackConfig
	user, domain, contactHost, uaName string
	transport                         string
	ringTimeout                       time.Duration
	unlockBudget                      time.Duration
	openerBound                       time.Duration
	dedupeWindow                      time.Duration
	maxCalls                          int
	callLimit                         time.Duration
	onCall                            func(CallEvent)
	onUnlock                          func(context.Context, UnlockEvent) error
	sink                              accessctl.EventSink
	device                            accessctl.DeviceRef
	door                              int
	opener                            Opener
	policy                            Policy
	unlockDigits                      string
	maxUnlocksPerCall                 int
	rateLimit                         time.Duration
	allowEarlyUnlock                  bool
	responseViaInfo                   bool
	autoAnswer                        bool
	password                          string
	allow                             []netip.Prefix
	allowSet                          bool
	maxPendingPerSource               int
}

func defaultOptions() options {
	return options{
		uaName:              "menjin-intercom",
		transport:           "udp",
		ringTimeout:         45 * time.Second,
		unlockBudget:        3 * time.Second,
		openerBound:         time.Second,
		dedupeWindow:        3 * time.Second,
		maxCalls:            1,
		maxPendingPerSource: 2,
		callLimit:           60 * time.Second,
		unlockDigits:        "*",
		maxUnlocksPerCall:   3,
		allowEarlyUnlock:    true,
		responseViaInfo:     true,
		autoAnswer:          true,
		stackConfig:         defaultStackConfig(),
	}
}

// CallState is the state of a call (S3 names plus Early).
type CallState int

const (
	CallIncoming CallState = iota
	CallOutgoing
	CallEarly
	CallConnected
	CallEnded
)

func (s CallState) String() string {
	return [...]string{"incoming", "outgoing", "early", "connected", "ended"}[s]
}

// CallEvent reports a call state change.
type CallEvent struct {
	State  CallState
	CallID string
	Peer   string // remote user part
	Status int    // final SIP status for failed outgoing calls
	Err    error
}

// Stats counts traffic; read with Endpoint.Stats.
type Stats struct {
	CallsIn, CallsOut, CallsRejected     uint64
	UnlocksGranted, UnlocksDenied        uint64
	Duplicates, Malformed, NoDialog      uint64
	InfoSent, InfoReceived, SinkFailures uint64
	// Foreign: in-dialog requests refused because their socket source was
	// not the dialog's peer; NotAllowed: INVITEs and unlocks refused by the
	// allow-list.
	Foreign, NotAllowed uint64
}

type counters struct {
	callsIn, callsOut, callsRejected atomic.Uint64
	granted, denied                  atomic.Uint64
	dups, malformed, noDialog        atomic.Uint64
	infoSent, infoRecv, sinkFail     atomic.Uint64
	foreign, notAllowed              atomic.Uint64
}

// Endpoint is one SIP user agent listening on UDP and TCP. DoorStation and
// Resident are the two personalities on top of it (§1): they share the call
// engine, the dialog table and registration.
type Endpoint struct {
	*stack
	o      options
	cnt    counters
	reqsn  atomic.Int64
	closed chan struct{}
	once   sync.Once

	sendGate sync.RWMutex // new client transactions hold it for reading; Close takes it to stop them
	noSends  bool         // under sendGate

	mu      sync.Mutex
	closing bool             // set under mu before wg.Wait: spawn refuses after it
	calls   map[string]*Call // dialog key -> call (early dialogs included)
	live    map[*Call]struct{}
	regs    []*Registration
	// registrars we register with: trusted as sources (door stations)
	registrars map[netip.Addr]struct{}
	pending    map[netip.Addr]int // answered, un-ACKed INVITEs per source
	pendingAll int

	// role hooks
	onIncoming func(*Call, *sip.Request) (status int)
	onInDialog func(*Call, *sip.Request, sip.ServerTransaction)
	onDigit    func(*Call, byte, UnlockChannel, string, netip.Addr)
	onAnswered func(*Call) // an incoming call we answered got its ACK
	// checkSources: refuse INVITEs and unlocks from outside the allow-list (door stations).
	checkSources bool
}

// NewEndpoint listens on addr ("127.0.0.1:0" picks a free port; UDP and TCP
// share it) and serves SIP until Close.
func NewEndpoint(addr string, opts ...EndpointOption) (*Endpoint, error) {
	o := defaultOptions()
	for _, f := range opts {
		f.applyEndpoint(&o)
	}
	return newEndpoint(addr, o, nil)
}

// newEndpoint binds, builds the sipgo stack, lets setup install the role's
// hooks and only then starts serving (hooks are never written concurrently).
func newEndpoint(addr string, o options, setup func(*Endpoint)) (*Endpoint, error) {
	st, err := newStack(addr, o.contactHost, o.uaName, o.stackConfig, true)
	if err != nil {
		return nil, err
	}
	if o.domain == "" {
		o.domain = st.host
	}
	if o.user == "" {
		o.user = "intercom"
	}
	ep := &Endpoint{stack: st, o: o, closed: make(chan struct{}), calls: map[string]*Call{}, live: map[*Call]struct{}{}}
	srv := st.srv
	ep.reqsn.Store(rand.Int64N(999))
	srv.OnInvite(guard("Require", ep.handleInvite))
	srv.OnAck(guard("Require", ep.handleAck))
	srv.OnBye(guard("Require", ep.handleBye))
	srv.OnInfo(guard("Require", ep.handleInDialog))
	srv.OnMessage(guard("Require", ep.handleInDialog))
	srv.OnNotify(guard("Require", ep.handleInDialog))
	srv.OnUpdate(guard("Require", ep.handleInDialog))
	srv.OnOptions(guard("Require", ep.handleOptions))
	srv.OnCancel(guard("Require", func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}))
	if setup != nil {
		setup(ep)
	}
	st.serve()
	return ep, nil
}

// Addr returns the listen address (host:port, same port for UDP and TCP).
func (ep *Endpoint) Addr() string { return net.JoinHostPort(ep.host, strconv.Itoa(ep.port)) }

// URI returns sip:user@host:port of this endpoint.
func (ep *Endpoint) URI() string { return "sip:" + ep.o.user + "@" + ep.Addr() }

// User returns our SIP user part.
func (ep *Endpoint) User() string { return ep.o.user }

// Stats returns a snapshot of the counters.
func (ep *Endpoint) Stats() Stats {
	c := &ep.cnt
	return Stats{CallsIn: c.callsIn.Load(), CallsOut: c.callsOut.Load(), CallsRejected: c.callsRejected.Load(),
		UnlocksGranted: c.granted.Load(), UnlocksDenied: c.denied.Load(), Duplicates: c.dups.Load(),
		Malformed: c.malformed.Load(), NoDialog: c.noDialog.Load(), InfoSent: c.infoSent.Load(),
		InfoReceived: c.infoRecv.Load(), SinkFailures: c.sinkFail.Load(),
		Foreign: c.foreign.Load(), NotAllowed: c.notAllowed.Load()}
}

// Calls returns the calls in progress.
func (ep *Endpoint) Calls() []*Call {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	out := make([]*Call, 0, len(ep.live))
	for c := range ep.live {
		out = append(out, c)
	}
	return out
}

// Close hangs up every call (bounded), deregisters and stops listening.
func (ep *Endpoint) Close() error {
	ep.once.Do(func() {
		close(ep.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ep.mu.Lock()
		regs := ep.regs
		ep.mu.Unlock()
		for _, r := range regs {
			r.stop(ctx)
		}
		var wg sync.WaitGroup
		for _, c := range ep.Calls() {
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.Hangup(ctx) }()
		}
		wg.Wait()
		for _, c := range ep.Calls() {
			c.end(CallEvent{State: CallEnded}, nil)
		}
		ep.mu.Lock()
		ep.closing = true
		ep.mu.Unlock()
		ep.sendGate.Lock()
		ep.noSends = true
		ep.sendGate.Unlock()
		ep.stack.close()
	})
	return nil
}

// newTx starts a client transaction unless Close has begun: a request sent
// after sipgo's transport was closed would open a socket nothing closes.
func (ep *Endpoint) newTx(start func() (sip.ClientTransaction, error)) (sip.ClientTransaction, error) {
	ep.sendGate.RLock()
	defer ep.sendGate.RUnlock()
	if ep.noSends {
		return nil, ErrClosed
	}
	return start()
}

// do sends req as a new client transaction and waits for its final response.
func (ep *Endpoint) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := ep.newTx(func() (sip.ClientTransaction, error) { return ep.cli.TransactionRequest(ctx, req) })
	if err != nil {
		return nil, err
	}
	return waitFinal(ctx, tx)
}

func waitFinal(ctx context.Context, tx sip.ClientTransaction) (*sip.Response, error) {
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// spawn runs f on a goroutine that Close waits for. It returns false (and
// does not run f) once Close has started waiting.
func (ep *Endpoint) spawn(f func()) bool {
	ep.mu.Lock()
	if ep.closing {
		ep.mu.Unlock()
		return false
	}
	ep.wg.Add(1)
	ep.mu.Unlock()
	go func() {
		defer ep.wg.Done()
		f()
	}()
	return true
}

func (ep *Endpoint) isClosed() bool {
	select {
	case <-ep.closed:
		return true
	default:
		return false
	}
}

func (ep *Endpoint) contact(transport string) sip.ContactHeader {
	c := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: ep.o.user, Host: ep.host, Port: ep.port}}
	if transport == "tcp" {
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", "tcp")
	}
	return c
}

func (ep *Endpoint) emitCall(ev CallEvent) {
	if ep.o.onCall != nil {
		ep.o.onCall(ev)
	}
}

// dialogKey identifies a dialog from our side.
func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

func tagOf(h interface{ Value() string }, params sip.HeaderParams) string {
	if params == nil {
		return ""
	}
	t, _ := params.Get("tag")
	return t
}

// match finds the call an incoming in-dialog request belongs to.
func (ep *Endpoint) match(req *sip.Request) *Call {
	from, to, cid := req.From(), req.To(), req.CallID()
	if from == nil || to == nil || cid == nil {
		return nil
	}
	key := dialogKey(cid.Value(), tagOf(to, to.Params), tagOf(from, from.Params))
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.calls[key]
}

// refuseForeign answers an in-dialog request whose socket source is not the
// dialog's remote target or route: Call-ID and tags alone are forgeable.
func (ep *Endpoint) refuseForeign(req *sip.Request, tx sip.ServerTransaction) {
	ep.cnt.foreign.Add(1)
	ep.log.Warn("in-dialog request from outside the dialog refused", "method", req.Method.String(), "source", req.Source())
	_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
}

func (ep *Endpoint) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, OPTIONS, BYE, INFO, MESSAGE, NOTIFY, UPDATE"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/json, application/dtmf-relay, application/dtmf"))
	_ = tx.Respond(res)
}

func (ep *Endpoint) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := ep.match(req); c != nil && c.srv != nil && c.fromPeer(req) {
		_ = c.srv.ReadAck(req, tx)
	}
}

func (ep *Endpoint) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	c := ep.match(req)
	if c == nil {
		ep.cnt.noDialog.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if !c.fromPeer(req) {
		ep.refuseForeign(req, tx)
		return
	}
	var err error
	if c.srv != nil {
		err = c.srv.ReadBye(req, tx)
	} else {
		err = c.cli.ReadBye(req, tx)
	}
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
	}
	c.end(CallEvent{State: CallEnded}, nil)
}

// handleInDialog is the INFO/MESSAGE/NOTIFY/UPDATE entry: 481 outside a dialog
// we know, 500 on a CSeq far below the last, then the role's handler.
func (ep *Endpoint) handleInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.INFO {
		ep.cnt.infoRecv.Add(1)
	}
	c := ep.match(req)
	if c == nil {
		ep.cnt.noDialog.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if !c.fromPeer(req) {
		ep.refuseForeign(req, tx)
		return
	}
	if !c.acceptCSeq(req.CSeq().SeqNo) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "CSeq Out Of Order", nil))
		return
	}
	if ep.onInDialog == nil || (req.Method != sip.INFO && req.Method != sip.MESSAGE) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		return
	}
	ep.onInDialog(c, req, tx)
}

func (ep *Endpoint) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && tagOf(to, to.Params) != "" {
		ep.handleReInvite(req, tx)
		return
	}
	if h := req.GetHeader("Require"); h != nil && strings.Contains(strings.ToLower(h.Value()), "100rel") {
		res := sip.NewResponseFromRequest(req, 420, "Bad Extension", nil)
		res.AppendHeader(sip.NewHeader("Unsupported", "100rel"))
		_ = tx.Respond(res)
		return
	}
	if ep.isClosed() {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		return
	}
	src, _ := sourceAddr(req)
	if ep.checkSources && !ep.allowed(src) {
		ep.cnt.notAllowed.Add(1)
		ep.cnt.callsRejected.Add(1)
		ep.log.Warn("INVITE from a source outside the allow-list refused", "source", req.Source())
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	if !ep.admitPending(src) {
		ep.cnt.callsRejected.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
		return
	}
	release := sync.OnceFunc(func() { ep.releasePending(src) })
	defer release()
	rtp, err := listenRTP(ep.host)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "No Media Port", nil))
		return
	}
	ans, err := BuildAnswer(req.Body(), OfferParams{User: ep.o.user, IP: ep.host, SessionID: rand.Uint64N(1 << 40),
		AudioPort: rtp.LocalAddr().(*net.UDPAddr).Port})
	if err != nil {
		rtp.Close()
		ep.cnt.callsRejected.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	transport := strings.ToLower(req.Transport())
	dua := &sipgo.DialogUA{Client: ep.cli, ContactHDR: ep.contact(transport), RewriteContact: true}
	sess, err := dua.ReadInvite(req, tx)
	if err != nil {
		rtp.Close()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	c := ep.newCall(false, req.CallID().Value())
	c.srv = sess
	c.localTag = tagOf(sess.InviteRequest.To(), sess.InviteRequest.To().Params)
	c.remoteTag = tagOf(req.From(), req.From().Params)
	c.peer = req.From().Address.User
	c.remoteCSeq = req.CSeq().SeqNo
	c.peers = peerSet{}
	c.peers.addMessage(req.Source(), req)
	c.rtp, c.tePT, c.remote, c.localSDP = rtp, ans.TelephoneEvPT, ans.Remote, ans.SDP
	ep.cnt.callsIn.Add(1)
	ep.emitCall(CallEvent{State: CallIncoming, CallID: c.callID, Peer: c.peer})
	if ep.onIncoming != nil {
		if st := ep.onIncoming(c, req); st >= 300 {
			ep.cnt.callsRejected.Add(1)
			_ = sess.Respond(st, "Rejected", nil)
			c.end(CallEvent{State: CallEnded, Status: st}, nil)
			return
		}
	}
	if ep.o.callLimit > 0 {
		c.limit = time.AfterFunc(ep.o.callLimit, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Hangup(ctx)
		})
	}
	c.acked = make(chan struct{})
	// Timer H (RFC 3261 §17.2.1, 64*T1): a 2xx never ACKed frees its slot and
	// its media port. sipgo v1.7.2 re-arms its own 64*T1 wait on every
	// retransmission, so it would never give up.
	var noAck atomic.Bool
	timerH := time.AfterFunc(64*ep.t1, func() {
		if sess.LoadState() >= sip.DialogStateConfirmed {
			return
		}
		ep.log.Warn("answer never ACKed; call dropped (Timer H)", "call", c.callID, "source", req.Source())
		noAck.Store(true)
		tx.Terminate()
		release()
		c.end(CallEvent{State: CallEnded, Status: 408}, errNoAck)
		// sipgo's RespondSDP waits for a dialog state change and has no
		// other way out: a stand-in ACK ends the wait (ReadAck reads only
		// the CSeq), and noAck tells the waiter what really happened.
		ack := sip.NewRequest(sip.ACK, req.Recipient)
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
		_ = sess.ReadAck(ack, tx)
	})
	defer timerH.Stop()
	ep.register(c, c.localTag, c.remoteTag)
	sess.OnState(func(s sip.DialogState) {
		if s == sip.DialogStateEnded {
			c.end(CallEvent{State: CallEnded}, nil)
		}
	})
	c.startMedia()
	c.setState(CallConnected)
	// RespondSDP blocks until the ACK (sipgo retransmits the 2xx meanwhile).
	// sipgo writes the session's InviteResponse there without a lock, so our
	// own in-dialog requests wait for acked (Call.transaction).
	if err := sess.RespondSDP(ans.SDP); err != nil {
		ep.log.Warn("answer not acknowledged", "call", c.callID, "err", err)
		c.end(CallEvent{State: CallEnded, Err: err}, err)
		return
	}
	timerH.Stop()
	if noAck.Load() {
		return
	}
	release()
	if ep.answeredCalls(c) >= ep.o.maxCalls {
		// Admitted while un-ACKed calls did not count: a late ACK may find the
		// door busy with another caller meanwhile.
		ep.cnt.callsRejected.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Hangup(ctx)
		return
	}
	close(c.acked)
	if ep.onAnswered != nil {
		ep.onAnswered(c)
	}
}

// handleReInvite answers a re-INVITE inside a dialog with our current SDP.
func (ep *Endpoint) handleReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := ep.match(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if !c.fromPeer(req) {
		ep.refuseForeign(req, tx)
		return
	}
	res := sip.NewSDPResponseFromRequest(req, c.localSDP)
	ct := ep.contact(strings.ToLower(req.Transport()))
	res.AppendHeader(&ct)
	_ = tx.Respond(res)
}

// maxPendingAll bounds un-ACKed answered INVITEs over all sources.
const maxPendingAll = 16

// errNoAck ends a call whose 2xx was never acknowledged.
var errNoAck = fmt.Errorf("%w: 2xx never ACKed (Timer H)", accessctl.ErrTimeout)

// admitPending takes a slot for an INVITE from src: answered calls are
// capped by maxCalls, un-ACKed ones per source and in all, so INVITEs never
// ACKed from one host cannot keep everybody else out.
func (ep *Endpoint) admitPending(src netip.Addr) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	answered := 0
	for c := range ep.live {
		if !c.pending {
			answered++
		}
	}
	per := ep.o.maxPendingPerSource
	if per <= 0 {
		per = 1
	}
	if answered >= ep.o.maxCalls || ep.pending[src] >= per || ep.pendingAll >= maxPendingAll {
		return false
	}
	if ep.pending == nil {
		ep.pending = map[netip.Addr]int{}
	}
	ep.pending[src]++
	ep.pendingAll++
	return true
}

func (ep *Endpoint) releasePending(src netip.Addr) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.pending[src] <= 1 {
		delete(ep.pending, src)
	} else {
		ep.pending[src]--
	}
	ep.pendingAll--
}

// answeredCalls counts live calls other than c that are not waiting for an
// ACK, and marks c answered.
func (ep *Endpoint) answeredCalls(c *Call) int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	c.pending = false
	n := 0
	for o := range ep.live {
		if o != c && !o.pending {
			n++
		}
	}
	return n
}

func (ep *Endpoint) newCall(outgoing bool, callID string) *Call {
	c := &Call{ep: ep, outgoing: outgoing, callID: callID, done: make(chan struct{}), tePT: -1,
		waiters: map[int]chan unlockResp{}, pending: !outgoing}
	ep.mu.Lock()
	ep.live[c] = struct{}{}
	ep.mu.Unlock()
	return c
}

func (ep *Endpoint) register(c *Call, local, remote string) {
	k := dialogKey(c.callID, local, remote)
	ep.mu.Lock()
	ep.calls[k] = c
	ep.mu.Unlock()
	c.mu.Lock()
	c.keys = append(c.keys, k)
	c.mu.Unlock()
}

func (ep *Endpoint) forget(c *Call) {
	c.mu.Lock()
	keys := c.keys
	c.keys = nil
	c.mu.Unlock()
	ep.mu.Lock()
	for _, k := range keys {
		delete(ep.calls, k)
	}
	delete(ep.live, c)
	ep.mu.Unlock()
}

// Dial places a call to target ("sip:user@host:port", optionally
// ";transport=tcp"). It returns when the call is answered, or with an error
// wrapping ErrCallFailed (final status in *StatusError). Early media: every
// 18x with SDP creates an early dialog that already accepts in-dialog
// requests, and the call reports CallEarly.
func (ep *Endpoint) Dial(ctx context.Context, target string) (*Call, error) {
	return ep.dial(ctx, target, "", "")
}

func (ep *Endpoint) dial(ctx context.Context, target, authUser, authPass string) (*Call, error) {
	if ep.isClosed() {
		return nil, ErrClosed
	}
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("intercom: bad target %q: %w", target, err)
	}
	transport := ep.o.transport
	if uri.UriParams != nil {
		if t, ok := uri.UriParams.Get("transport"); ok && t != "" {
			transport = strings.ToLower(t)
		}
	}
	rtp, err := listenRTP(ep.host)
	if err != nil {
		return nil, err
	}
	offer := BuildOffer(OfferParams{User: ep.o.user, IP: ep.host, SessionID: rand.Uint64N(1 << 40),
		AudioPort: rtp.LocalAddr().(*net.UDPAddr).Port})
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTransport(transport)
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: ep.o.user, Host: ep.o.domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: uri.User, Host: uri.Host, Port: uri.Port}}
	ct := ep.contact(transport)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, OPTIONS, BYE, INFO, MESSAGE"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	ep.fromUDPSocket(req)
	if transport == "udp" && len(req.String()) > sip.UDPMTUSize-200 {
		rtp.Close()
		return nil, fmt.Errorf("%w: INVITE of %d bytes", ErrTooLarge, len(req.String()))
	}

	dua := &sipgo.DialogUA{Client: ep.cli, ContactHDR: ct}
	c := ep.newCall(true, "")
	c.localTag = tagOf(&from, from.Params)
	c.peer = uri.User
	c.rtp = rtp
	c.localSDP = offer
	// The ring timer cancels WaitAnswer. Before any provisional response it
	// must force-cancel: sipgo would otherwise wait for a response to CANCEL
	// (up to Timer B, 32 s) although RFC 3261 forbids a CANCEL then anyway.
	ringCtx, ringCancel := context.WithCancelCause(context.Background())
	var provisional atomic.Bool
	stopWatch := make(chan struct{})
	defer func() { close(stopWatch); ringCancel(nil) }()
	go func() {
		t := time.NewTimer(ep.o.ringTimeout)
		defer t.Stop()
		select {
		case <-stopWatch:
			return
		case <-ctx.Done():
		case <-t.C:
		}
		if provisional.Load() {
			ringCancel(context.DeadlineExceeded)
		} else {
			ringCancel(sipgo.WaitAnswerForceCancelErr)
		}
	}()
	var sess *sipgo.DialogClientSession
	_, err = ep.newTx(func() (sip.ClientTransaction, error) {
		var werr error
		sess, werr = dua.WriteInvite(ringCtx, req)
		return nil, werr
	})
	if err != nil {
		c.end(CallEvent{State: CallEnded, Err: err}, err)
		return nil, err
	}
	c.callID = req.CallID().Value()
	c.cli = sess
	ep.cnt.callsOut.Add(1)
	ep.emitCall(CallEvent{State: CallOutgoing, CallID: c.callID, Peer: c.peer})
	err = sess.WaitAnswer(ringCtx, sipgo.AnswerOptions{Username: authUser, Password: authPass,
		OnResponse: func(res *sip.Response) error {
			if res.IsProvisional() {
				provisional.Store(true)
			}
			if res.StatusCode > 100 {
				c.addPeers(res.Source(), res)
			}
			if res.StatusCode > 100 && res.StatusCode < 200 {
				if tag := tagOf(res.To(), res.To().Params); tag != "" {
					c.early(tag, res.Body())
				}
			}
			return nil
		}})
	if err != nil {
		status := 0
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			status = dr.Res.StatusCode
		}
		if errors.Is(err, context.DeadlineExceeded) || ringCtx.Err() != nil {
			status = 408
		}
		ferr := &StatusError{Kind: ErrCallFailed, Status: status, Reason: err.Error()}
		c.end(CallEvent{State: CallEnded, Status: status, Err: ferr}, ferr)
		return nil, ferr
	}
	res := sess.InviteResponse
	remote := tagOf(res.To(), res.To().Params)
	c.confirm(remote, res.Body())
	sess.OnState(func(s sip.DialogState) {
		if s == sip.DialogStateEnded {
			c.end(CallEvent{State: CallEnded}, nil)
		}
	})
	if err := sess.Ack(ctx); err != nil {
		c.end(CallEvent{State: CallEnded, Err: err}, err)
		return nil, err
	}
	c.setState(CallConnected)
	return c, nil
}

func listenRTP(host string) (*net.UDPConn, error) {
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4zero
	}
	return net.ListenUDP("udp", &net.UDPAddr{IP: ip})
}

// nextReqSN returns the next request serial number (1–999, wrapping).
func (ep *Endpoint) nextReqSN() int {
	for {
		old := ep.reqsn.Load()
		n := int64(nextReqSN(int(old)))
		if ep.reqsn.CompareAndSwap(old, n) {
			return int(n)
		}
	}
}
