package intercom

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// RegisterConfig describes one registration (§4).
type RegisterConfig struct {
	Registrar string        // "sip:host:port" (";transport=tcp" for TCP)
	User      string        // account (sipNumber); default: the endpoint's user
	Password  string        // sipPassword
	Domain    string        // AoR host; default: the registrar host
	Expires   time.Duration // requested expiry (default 600 s)
	Timeout   time.Duration // per REGISTER transaction (default 5 s)
	RetryMin  time.Duration // first backoff after a failure (default 5 s)
	AuthRetry time.Duration // first backoff after an auth failure (default 30 s)
	RetryMax  time.Duration // backoff cap (default 10 min)
	KeepAlive time.Duration // OPTIONS probe interval while registered (default 25 s; negative: off)
	OnState   func(RegistrationState)
}

// RegistrationState reports the outcome of each REGISTER exchange.
type RegistrationState struct {
	Registered bool
	Expires    time.Duration // granted
	Err        error         // wraps ErrAuthFailed, ErrTimeout-like transport errors, *StatusError
	At         time.Time
}

// Registration keeps an account registered: refresh at 80 % of the granted
// expiry, exponential backoff with jitter on failure, 30 s → 10 min after auth
// failures, deregistration on Stop. CSeq is ours: it grows by one on every
// REGISTER, digest retries included, over one Call-ID and From-tag.
type Registration struct {
	ep     *Endpoint
	cfg    RegisterConfig
	uri    sip.Uri
	callID string
	tag    string
	auth   clientAuth

	mu        sync.Mutex
	natHost   string // received/rport the registrar saw, when not what we advertise (§3)
	natPort   int
	cseq      uint32
	state     RegistrationState
	ready     chan struct{}
	readyOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// Register starts keeping the endpoint registered and returns at once; use
// WaitRegistered to block until the first success.
func (ep *Endpoint) Register(cfg RegisterConfig) (*Registration, error) {
	if ep.isClosed() {
		return nil, ErrClosed
	}
	var uri sip.Uri
	if err := sip.ParseUri(cfg.Registrar, &uri); err != nil {
		return nil, fmt.Errorf("intercom: bad registrar %q: %w", cfg.Registrar, err)
	}
	uri.User = ""
	if cfg.User == "" {
		cfg.User = ep.o.user
	}
	if cfg.Domain == "" {
		cfg.Domain = uri.Host
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Expires, 600*time.Second)
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.RetryMin, 5*time.Second)
	def(&cfg.AuthRetry, 30*time.Second)
	def(&cfg.RetryMax, 10*time.Minute)
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 25 * time.Second
	}
	ep.trustRegistrar(uri.Host)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registration{ep: ep, cfg: cfg, uri: uri, callID: sip.GenerateTagN(20), tag: sip.GenerateTagN(10),
		auth: clientAuth{user: cfg.User, password: cfg.Password}, cseq: uint32(rand.IntN(1000)) + 1,
		ready: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	ep.mu.Lock()
	ep.regs = append(ep.regs, r)
	ep.mu.Unlock()
	go r.run(ctx)
	return r, nil
}

// WaitRegistered blocks until the first successful registration.
func (r *Registration) WaitRegistered(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		err := r.state.Err
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
		return ctx.Err()
	}
}

// State returns the last registration state.
func (r *Registration) State() RegistrationState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Stop deregisters (Expires: 0) and stops refreshing.
func (r *Registration) Stop(ctx context.Context) error { r.stop(ctx); return nil }

func (r *Registration) stop(ctx context.Context) {
	r.cancel()
	<-r.done
	r.mu.Lock()
	registered := r.state.Registered
	r.mu.Unlock()
	if registered {
		_, _ = r.once(ctx, 0)
	}
}

func (r *Registration) setState(s RegistrationState) {
	s.At = time.Now()
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
	if s.Registered {
		r.readyOnce.Do(func() { close(r.ready) })
	}
	if r.cfg.OnState != nil {
		r.cfg.OnState(s)
	}
}

func (r *Registration) run(ctx context.Context) {
	defer close(r.done)
	backoff := time.Duration(0)
	for {
		granted, err := r.once(ctx, r.cfg.Expires)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err == nil {
			r.setState(RegistrationState{Registered: true, Expires: granted})
			backoff = 0
			wait = granted * 8 / 10
			if granted-wait > 30*time.Second {
				wait = granted - 30*time.Second
			}
		} else {
			r.setState(RegistrationState{Err: err})
			first := r.cfg.RetryMin
			if isAuthErr(err) {
				first = r.cfg.AuthRetry
			}
			if backoff < first {
				backoff = first
			} else {
				backoff = min(backoff*2, r.cfg.RetryMax)
			}
			wait = backoff/2 + rand.N(backoff/2+1)
		}
		if !r.wait(ctx, wait, err == nil) {
			return
		}
	}
}

// wait sleeps until the next REGISTER. While registered it probes the
// registrar with OPTIONS every KeepAlive (§8): any answer keeps the NAT
// binding and proves the server; three timeouts in a row mean the
// registration is lost and it returns early to re-REGISTER.
func (r *Registration) wait(ctx context.Context, d time.Duration, registered bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var tick <-chan time.Time
	if registered && r.cfg.KeepAlive > 0 {
		tk := time.NewTicker(r.cfg.KeepAlive)
		defer tk.Stop()
		tick = tk.C
	}
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-tick:
			if r.probe(ctx) {
				misses = 0
				continue
			}
			if misses++; misses >= 3 {
				r.setState(RegistrationState{Err: ErrUnreachable})
				return true
			}
		}
	}
}

// probe sends one OPTIONS to the registrar; any response counts.
func (r *Registration) probe(ctx context.Context) bool {
	req := sip.NewRequest(sip.OPTIONS, *r.uri.Clone())
	req.SetTransport(r.transport())
	r.ep.fromUDPSocket(req)
	tctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	_, err := r.ep.do(tctx, req)
	return err == nil
}

func (r *Registration) transport() string {
	if r.uri.UriParams != nil {
		if t, ok := r.uri.UriParams.Get("transport"); ok && t != "" {
			return strings.ToLower(t)
		}
	}
	return "udp"
}

func isAuthErr(err error) bool {
	se, ok := err.(*StatusError)
	return ok && se.Kind == ErrAuthFailed
}

func (r *Registration) build(expires time.Duration) *sip.Request {
	r.mu.Lock()
	r.cseq++
	cseq := r.cseq
	r.mu.Unlock()
	req := sip.NewRequest(sip.REGISTER, *r.uri.Clone())
	transport := r.transport()
	req.SetTransport(transport)
	aor := sip.Uri{Scheme: "sip", User: r.cfg.User, Host: r.cfg.Domain}
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.tag)
	to := sip.ToHeader{Address: aor}
	cid := sip.CallIDHeader(r.callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	ct := r.ep.contact(transport)
	ct.Address.User = r.cfg.User
	r.mu.Lock()
	if r.natHost != "" {
		ct.Address.Host, ct.Address.Port = r.natHost, r.natPort
	}
	r.mu.Unlock()
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	r.ep.fromUDPSocket(req)
	return req
}

// once runs one REGISTER exchange including digest retries.
func (r *Registration) once(ctx context.Context, expires time.Duration) (time.Duration, error) {
	challenged := 0
	for attempt := 0; attempt < 4; attempt++ {
		req := r.build(expires)
		r.mu.Lock()
		name, val, err := r.auth.authorize("REGISTER", req.Recipient.String())
		r.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if name != "" {
			req.AppendHeader(sip.NewHeader(name, val))
		}
		tctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		res, err := r.ep.do(tctx, req)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("intercom: register: %w", err)
		}
		switch {
		case res.IsSuccess():
			if expires > 0 && r.learnNAT(res, req) {
				continue // re-REGISTER at once with the public Contact (§3 rec 2)
			}
			return grantedExpiry(res, req, expires), nil
		case res.StatusCode == 401 || res.StatusCode == 407:
			hname := "WWW-Authenticate"
			if res.StatusCode == 407 {
				hname = "Proxy-Authenticate"
			}
			h := res.GetHeader(hname)
			if h == nil {
				return 0, &StatusError{Kind: ErrAuthFailed, Status: res.StatusCode, Reason: "no challenge"}
			}
			r.mu.Lock()
			fresh, cerr := r.auth.setChallenge(h.Value(), res.StatusCode == 407)
			r.mu.Unlock()
			if cerr != nil {
				return 0, cerr
			}
			challenged++
			if !fresh || challenged > 2 {
				r.mu.Lock()
				r.auth.chal = nil
				r.mu.Unlock()
				return 0, &StatusError{Kind: ErrAuthFailed, Status: res.StatusCode, Reason: res.Reason}
			}
		case res.StatusCode == 403:
			return 0, &StatusError{Kind: ErrAuthFailed, Status: 403, Reason: res.Reason}
		case res.StatusCode == 423:
			if h := res.GetHeader("Min-Expires"); h != nil {
				if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
					expires = time.Duration(n) * time.Second
					continue
				}
			}
			return 0, &StatusError{Kind: ErrCallFailed, Status: 423, Reason: res.Reason}
		default:
			return 0, &StatusError{Kind: ErrCallFailed, Status: res.StatusCode, Reason: res.Reason}
		}
	}
	return 0, &StatusError{Kind: ErrAuthFailed, Status: 401, Reason: "too many challenges"}
}

// learnNAT compares the registrar's view of our address (top Via received
// and rport) with the Contact we sent; when they differ it adopts the public
// address for later Contacts and reports true.
func (r *Registration) learnNAT(res *sip.Response, req *sip.Request) bool {
	via, ct := res.Via(), req.Contact()
	if via == nil || ct == nil {
		return false
	}
	host, port := ct.Address.Host, ct.Address.Port
	if v, ok := via.Params.Get("received"); ok && v != "" {
		host = v
	}
	if v, ok := via.Params.Get("rport"); ok && v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			port = n
		}
	}
	if host == ct.Address.Host && port == ct.Address.Port {
		return false
	}
	r.mu.Lock()
	r.natHost, r.natPort = host, port
	r.mu.Unlock()
	return true
}

// PublicContact returns the address the registrar saw us at, when it
// differed from ours (NAT), else "".
func (r *Registration) PublicContact() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.natHost == "" {
		return ""
	}
	return net.JoinHostPort(r.natHost, strconv.Itoa(r.natPort))
}

// grantedExpiry prefers our Contact's expires parameter, then Expires (§4.1).
func grantedExpiry(res *sip.Response, req *sip.Request, asked time.Duration) time.Duration {
	mine := req.Contact()
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || mine == nil || c.Address.Host != mine.Address.Host || c.Address.Port != mine.Address.Port {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// callTarget resolves a bare user through our (first) registrar and dials
// with its credentials for INVITE challenges.
func (ep *Endpoint) callTarget(ctx context.Context, target string) (*Call, error) {
	ep.mu.Lock()
	var reg *Registration
	if len(ep.regs) > 0 {
		reg = ep.regs[0]
	}
	ep.mu.Unlock()
	if !strings.HasPrefix(target, "sip:") && !strings.HasPrefix(target, "sips:") {
		if reg == nil {
			return nil, fmt.Errorf("intercom: %q is not a SIP URI and we are not registered", target)
		}
		u := reg.uri
		u.User = target
		target = u.String()
	}
	if reg != nil {
		return ep.dial(ctx, target, reg.cfg.User, reg.cfg.Password)
	}
	return ep.dial(ctx, target, "", "")
}
