package intercom

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

type registrarOptions struct {
	stackConfig
	realm                  string
	nonceTTL               time.Duration
	minExpires, maxExpires time.Duration
	host                   string
	ringTimeout            time.Duration
	onBinding              func(b Binding, registered bool)
}

// Binding is one registered contact.
type Binding struct {
	User      string
	Contact   sip.Uri
	Source    string // where REGISTER came from (used to reach NATed contacts)
	Transport string
	Expires   time.Time
}

// RegistrarStats counts registrar traffic.
type RegistrarStats struct {
	Registers, Challenges, AuthFailures, Replays, Forwarded, NotFound uint64
	// RelayDenied counts requests refused because they would leave the
	// site's own accounts (403) or did not belong to a dialog we authorised.
	RelayDenied uint64
}

// Registrar is a small registrar and record-routing proxy for one site: MD5
// digest with expiring nonces and nonce-count replay protection, a location
// table, and routing of INVITE and in-dialog requests between accounts.
// New requests are forwarded only to its own accounts and only from a
// registered socket or with a digest (407); in-dialog ones only between the
// parties of a call it authorised. Not a PBX: no forking, no media.
type Registrar struct {
	*stack
	o        registrarOptions
	accounts map[string]string
	nonces   *nonceStore
	ctx      context.Context
	cancel   context.CancelFunc

	mu       sync.Mutex
	bindings map[string]*Binding
	dialogs  map[string]*proxyDialog // Call-ID -> an INVITE/MESSAGE we authorised

	registers, challenges, authFail, replays, forwarded, notFound, relayDenied atomic.Uint64

	tap atomic.Pointer[func(*sip.Request)] // tests: sees every REGISTER
}

// NewRegistrar listens on addr (UDP and TCP) with accounts user → password.
func NewRegistrar(addr string, accounts map[string]string, opts ...RegistrarOption) (*Registrar, error) {
	o := registrarOptions{realm: "menjin", nonceTTL: 5 * time.Minute, minExpires: 60 * time.Second,
		maxExpires: time.Hour, ringTimeout: 60 * time.Second, stackConfig: defaultStackConfig()}
	for _, f := range opts {
		f.applyRegistrar(&o)
	}
	st, err := newStack(addr, o.host, "menjin-registrar", o.stackConfig, false)
	if err != nil {
		return nil, err
	}
	o.host = st.host
	acc := make(map[string]string, len(accounts))
	for k, v := range accounts {
		acc[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registrar{stack: st, o: o, accounts: acc, nonces: newNonceStore(o.nonceTTL, 10000),
		bindings: map[string]*Binding{}, dialogs: map[string]*proxyDialog{}, ctx: ctx, cancel: cancel}
	srv := st.srv
	srv.OnRegister(guard("Require", r.handleRegister))
	srv.OnAck(guard("Proxy-Require", r.handleAck))
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.BYE, sip.INFO, sip.MESSAGE, sip.NOTIFY, sip.UPDATE, sip.OPTIONS, sip.CANCEL, sip.REFER, sip.SUBSCRIBE} {
		srv.OnRequest(m, guard("Proxy-Require", r.handleProxy))
	}
	st.serve()
	return r, nil
}

// Addr returns host:port (UDP and TCP).
func (r *Registrar) Addr() string { return net.JoinHostPort(r.host, strconv.Itoa(r.port)) }

// URI returns sip:host:port, the value for RegisterConfig.Registrar.
func (r *Registrar) URI() string { return "sip:" + r.Addr() }

// Lookup returns the live binding of user.
func (r *Registrar) Lookup(user string) (Binding, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bindings[user]
	if !ok || time.Now().After(b.Expires) {
		return Binding{}, false
	}
	return *b, true
}

// Stats returns a snapshot of the counters.
func (r *Registrar) Stats() RegistrarStats {
	return RegistrarStats{Registers: r.registers.Load(), Challenges: r.challenges.Load(), AuthFailures: r.authFail.Load(),
		Replays: r.replays.Load(), Forwarded: r.forwarded.Load(), NotFound: r.notFound.Load(),
		RelayDenied: r.relayDenied.Load()}
}

// Close stops listening and aborts forwarded transactions.
func (r *Registrar) Close() error {
	r.cancel()
	r.stack.close()
	return nil
}

func (r *Registrar) challenge(req *sip.Request, tx sip.ServerTransaction, stale bool) {
	r.challenges.Add(1)
	chal := digest.Challenge{Realm: r.o.realm, Nonce: r.nonces.issue(), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	// A registrar says 401/WWW-Authenticate, a proxy 407/Proxy-Authenticate (RFC 3261 §22.3).
	code, reason, hdr := 401, "Unauthorized", "WWW-Authenticate"
	if req.Method != sip.REGISTER {
		code, reason, hdr = 407, "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader(hdr, chal.String()))
	_ = tx.Respond(res)
}

// authenticate checks the digest in header hdr for user (any account when
// user is ""): it answers the request itself (401/407/403) and returns ""
// unless the credentials are good, then the account.
func (r *Registrar) authenticate(req *sip.Request, tx sip.ServerTransaction, hdr, user string) string {
	h := req.GetHeader(hdr)
	if h == nil {
		r.challenge(req, tx, false)
		return ""
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || (user != "" && cred.Username != user) || !sameURI(cred.URI, req.Recipient) {
		// A digest for another Request-URI is a captured one replayed here.
		r.authFail.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return ""
	}
	pass, known := r.accounts[cred.Username]
	if !known {
		pass = "\x00unknown" // still run the digest, so timing does not reveal accounts
	}
	switch v := r.nonces.check(cred, r.o.realm, pass, string(req.Method)); {
	case v == authStale:
		r.challenge(req, tx, true)
		return ""
	case v == authReplay:
		r.replays.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Replayed Credentials", nil))
		return ""
	case v != authOK || !known:
		r.authFail.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return ""
	}
	return cred.Username
}

// sameURI compares the digest uri parameter with the Request-URI.
func sameURI(digestURI string, reqURI sip.Uri) bool {
	if digestURI == reqURI.String() {
		return true
	}
	var u sip.Uri
	if sip.ParseUri(digestURI, &u) != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, reqURI.Scheme) && u.User == reqURI.User &&
		strings.EqualFold(u.Host, reqURI.Host) && u.Port == reqURI.Port
}

func (r *Registrar) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	r.registers.Add(1)
	if tap := r.tap.Load(); tap != nil {
		(*tap)(req)
	}
	to := req.To()
	if to == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	user := to.Address.User
	if r.authenticate(req, tx, "Authorization", user) == "" {
		return
	}
	expires := r.o.maxExpires
	if e := req.GetHeader("Expires"); e != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(e.Value())); err == nil && n >= 0 {
			expires = time.Duration(n) * time.Second
		}
	}
	ct := req.Contact()
	if ct != nil {
		if v, ok := ct.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				expires = time.Duration(n) * time.Second
			}
		}
	}
	if ct == nil { // a query: answer with the current binding
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if b, ok := r.Lookup(user); ok {
			c := sip.ContactHeader{Address: b.Contact}
			res.AppendHeader(&c)
		}
		_ = tx.Respond(res)
		return
	}
	if expires == 0 || ct.Address.Wildcard {
		r.mu.Lock()
		delete(r.bindings, user)
		r.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		if r.o.onBinding != nil {
			r.o.onBinding(Binding{User: user}, false)
		}
		return
	}
	if expires < r.o.minExpires {
		res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.o.minExpires/time.Second))))
		_ = tx.Respond(res)
		return
	}
	expires = min(expires, r.o.maxExpires)
	b := &Binding{User: user, Contact: *ct.Address.Clone(), Source: req.Source(), Transport: strings.ToLower(req.Transport()),
		Expires: time.Now().Add(expires)}
	r.mu.Lock()
	r.bindings[user] = b
	r.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	rc := sip.ContactHeader{Address: b.Contact, Params: sip.NewParams()}
	rc.Params.Add("expires", strconv.Itoa(int(expires/time.Second)))
	res.AppendHeader(&rc)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	_ = tx.Respond(res)
	if r.o.onBinding != nil {
		r.o.onBinding(*b, true)
	}
}

// isUs reports whether uri points at this proxy.
func (r *Registrar) isUs(uri sip.Uri) bool {
	p := uri.Port
	if p == 0 {
		p = 5060
	}
	return (uri.Host == r.host || uri.Host == "localhost") && p == r.port
}

// route decides where a request goes: the destination address, transport and
// the (possibly rewritten) Request-URI. status != 0 rejects it.
func (r *Registrar) route(req *sip.Request) (dest, transport string, status int) {
	if rt := req.Route(); rt != nil && r.isUs(rt.Address) {
		req.RemoveHeader("Route")
	}
	if rt := req.Route(); rt != nil { // loose routing to the next hop
		return rt.Address.HostPort(), uriTransport(rt.Address, "udp"), 0
	}
	if b, ok := r.Lookup(req.Recipient.User); ok && (r.isUs(req.Recipient) || req.Recipient.Host == r.o.realm) {
		req.Recipient = *b.Contact.Clone()
		dest := b.Source
		if dest == "" || b.Transport == "tcp" {
			dest = b.Contact.HostPort()
		}
		return dest, uriTransport(b.Contact, b.Transport), 0
	}
	if r.isUs(req.Recipient) {
		if _, known := r.accounts[req.Recipient.User]; known {
			return "", "", 480
		}
		return "", "", 404
	}
	return req.Recipient.HostPort(), uriTransport(req.Recipient, "udp"), 0
}

func uriTransport(u sip.Uri, def string) string {
	if u.UriParams != nil {
		if t, ok := u.UriParams.Get("transport"); ok && t != "" {
			return strings.ToLower(t)
		}
	}
	if def == "" {
		return "udp"
	}
	return def
}

func (r *Registrar) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	if !r.dialogMember(req) {
		r.relayDenied.Add(1)
		return
	}
	fwd := req.Clone()
	dest, transport, st := r.route(fwd)
	if st != 0 || !r.dialogDest(req, dest) {
		return
	}
	r.prepare(fwd, dest, transport)
	_ = r.cli.WriteRequest(fwd, sipgo.ClientRequestAddVia)
}

// prepare sets where a forwarded request goes; over UDP it leaves from our
// listening socket (otherwise sipgo opens an ephemeral socket per peer).
func (r *Registrar) prepare(fwd *sip.Request, dest, transport string) {
	fwd.SetDestination(dest)
	fwd.SetTransport(transport)
	r.fromUDPSocket(fwd)
}

func (r *Registrar) handleProxy(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.OPTIONS && req.Recipient.User == "" {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		return
	}
	if req.Method == sip.CANCEL { // a CANCEL the transaction layer did not match
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if mf := req.MaxForwards(); mf != nil {
		if mf.Val() <= 1 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 483, "Too Many Hops", nil))
			return
		}
		mf.Dec()
	}
	initial := req.To() == nil || tagOf(req.To(), req.To().Params) == ""
	if initial {
		// No open relay: a new request must be for one of our accounts and
		// come from one of them (registered socket or digest).
		if !r.ownTarget(req.Recipient) || req.Route() != nil && !r.isUs(req.Route().Address) {
			r.relayDenied.Add(1)
			_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Relaying Denied", nil))
			return
		}
		if !r.fromRegistered(req) {
			from := ""
			if req.From() != nil {
				from = req.From().Address.User
			}
			if r.authenticate(req, tx, "Proxy-Authorization", from) == "" {
				return
			}
		}
	} else if !r.dialogMember(req) {
		r.relayDenied.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	fwd := req.Clone()
	fwd.RemoveHeader("Proxy-Authorization") // ours: not for the next hop
	dest, transport, st := r.route(fwd)
	if st != 0 {
		r.notFound.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, st, statusText(st), nil))
		return
	}
	if !initial && !r.dialogDest(req, dest) {
		r.relayDenied.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	var dlg *proxyDialog
	if initial && req.Method == sip.INVITE {
		if dlg = r.openDialog(req, dest); dlg == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
			return
		}
	}
	if req.Method == sip.BYE {
		defer r.closeDialog(req)
	}
	if initial && req.Method == sip.INVITE {
		rr := "<sip:" + r.Addr() + ";lr>"
		if strings.EqualFold(req.Transport(), "tcp") {
			rr = "<sip:" + r.Addr() + ";transport=tcp;lr>"
		}
		fwd.PrependHeader(sip.NewHeader("Record-Route", rr))
	}
	r.prepare(fwd, dest, transport)
	r.forwarded.Add(1)
	ftx, err := r.cli.TransactionRequest(r.ctx, fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		return
	}
	defer ftx.Terminate()
	if req.Method == sip.INVITE {
		tx.OnCancel(func(*sip.Request) {
			c := cancelFor(fwd)
			r.prepare(c, dest, transport)
			cctx, ccancel := context.WithTimeout(r.ctx, 5*time.Second)
			defer ccancel()
			_, _ = r.cli.Do(cctx, c, func(*sipgo.Client, *sip.Request) error { return nil })
		})
	}
	timeout := time.NewTimer(r.o.ringTimeout + 5*time.Second)
	defer timeout.Stop()
	for {
		select {
		case res, ok := <-ftx.Responses():
			if !ok {
				return
			}
			if dlg != nil && res.StatusCode > 100 {
				r.mu.Lock()
				dlg.parties.addMessage(res.Source(), res)
				r.mu.Unlock()
			}
			out := res.Clone()
			out.RemoveHeader("Via")
			out.SetDestination("")
			out.SetTransport("")
			if err := tx.Respond(out); err != nil {
				return
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-ftx.Done():
			if err := ftx.Err(); err != nil && !errors.Is(err, sip.ErrTransactionTerminated) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 408, "Request Timeout", nil))
			}
			return
		case <-timeout.C:
			_ = tx.Respond(sip.NewResponseFromRequest(req, 408, "Request Timeout", nil))
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// cancelFor builds the CANCEL of a forwarded INVITE: same Request-URI, top
// Via, Call-ID, From, To and CSeq number (RFC 3261 §9.1).
func cancelFor(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(sip.HeaderClone(inv.Via()))
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.SetBody(nil)
	return c
}

func statusText(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	}
	return "Error"
}

// maxProxyDialogs bounds the table of calls the registrar authorised.
const maxProxyDialogs = 4096

// proxyDialog is a call we authorised: in-dialog requests are forwarded
// only between its parties' addresses.
type proxyDialog struct {
	parties peerSet
	expires time.Time
}

// ownTarget reports whether uri names one of our accounts' domain.
func (r *Registrar) ownTarget(uri sip.Uri) bool {
	return r.isUs(uri) || strings.EqualFold(uri.Host, r.o.realm)
}

// fromRegistered reports whether req came from the socket its From user
// registered from: that binding was authenticated by digest.
func (r *Registrar) fromRegistered(req *sip.Request) bool {
	from := req.From()
	if from == nil {
		return false
	}
	b, ok := r.Lookup(from.Address.User)
	return ok && b.Source != "" && b.Source == req.MessageData.Source()
}

// openDialog records an authorised INVITE; nil when the table is full.
func (r *Registrar) openDialog(req *sip.Request, dest string) *proxyDialog {
	now := time.Now()
	d := &proxyDialog{parties: peerSet{}, expires: now.Add(r.o.ringTimeout + 2*time.Hour)}
	d.parties.addMessage(req.MessageData.Source(), req)
	d.parties.addHost(dest)
	if a, _, err := net.SplitHostPort(dest); err == nil {
		d.parties.addHost(a)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dialogs) >= maxProxyDialogs {
		for k, o := range r.dialogs {
			if now.After(o.expires) {
				delete(r.dialogs, k)
			}
		}
		if len(r.dialogs) >= maxProxyDialogs {
			return nil
		}
	}
	if old, ok := r.dialogs[req.CallID().Value()]; ok && now.Before(old.expires) {
		for a := range d.parties {
			old.parties[a] = struct{}{}
		}
		return old
	}
	r.dialogs[req.CallID().Value()] = d
	return d
}

func (r *Registrar) closeDialog(req *sip.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dialogs, req.CallID().Value())
}

// dialogMember reports whether an in-dialog request belongs to a call we
// authorised and comes from one of its parties (socket source address).
func (r *Registrar) dialogMember(req *sip.Request) bool {
	src, ok := sourceAddr(req)
	if !ok || req.CallID() == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dialogs[req.CallID().Value()]
	if !ok || time.Now().After(d.expires) {
		return false
	}
	_, ok = d.parties[src]
	return ok
}

// dialogDest reports whether an in-dialog request goes to one of the call's parties.
func (r *Registrar) dialogDest(req *sip.Request, dest string) bool {
	host, _, err := net.SplitHostPort(dest)
	if err != nil {
		host = dest
	}
	a, ok := hostAddr(host)
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dialogs[req.CallID().Value()]
	if !ok {
		return false
	}
	_, ok = d.parties[a]
	return ok
}
