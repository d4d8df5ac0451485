package intercom

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// UnlockChannel says how an unlock reached the door station (§6.6).
type UnlockChannel int

const (
	ChannelInfoJSON    UnlockChannel = iota // INFO application/json (§6.1)
	ChannelMessageJSON                      // MESSAGE carrying the same JSON
	ChannelDTMFRelay                        // INFO application/dtmf-relay
	ChannelDTMFInfo                         // INFO application/dtmf
	ChannelRFC2833                          // RTP telephone-event
)

// String returns the names used in logs and by examples/sipdoor.
func (c UnlockChannel) String() string {
	switch c {
	case ChannelInfoJSON:
		return "info-json"
	case ChannelMessageJSON:
		return "message-json"
	case ChannelDTMFRelay:
		return "dtmf-relay"
	case ChannelDTMFInfo:
		return "dtmf"
	case ChannelRFC2833:
		return "rfc2833"
	}
	return "unknown"
}

// UnlockRequest is what the policy hook and the Opener see.
type UnlockRequest struct {
	Channel UnlockChannel
	CallID  string
	Peer    string // the dialog's remote user: the authoritative initiator
	Claimed string // the "sip" field of the JSON body, if any
	ReqSN   int    // 0 for DTMF
	Early   bool   // arrived in an early dialog (preview before answer)
	// Source is the socket address the request (or RTP packet) came from:
	// what the door's allow-list is checked against.
	Source netip.Addr
}

// Opener drives the lock. An accessctl.Device can serve through DeviceOpener.
type Opener interface {
	Open(ctx context.Context, r UnlockRequest) error
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, r UnlockRequest) error

func (f OpenerFunc) Open(ctx context.Context, r UnlockRequest) error { return f(ctx, r) }

// Policy allows (nil) or denies (ErrUnlockDenied, ErrUnlockDisabled, any
// error) an unlock before the Opener runs.
type Policy func(ctx context.Context, r UnlockRequest) error

// UnlockEvent reports every unlock attempt the door station saw.
type UnlockEvent struct {
	ID string // idempotency key: Call-ID/remote-tag/reqsn, or the RTP SSRC/timestamp
	At time.Time
	UnlockRequest
	Status int   // JSON status: 200 opened, >= 400 refused (§12 row 6)
	Err    error // why, when refused
}

// Granted reports whether the door opened.
func (e UnlockEvent) Granted() bool { return e.Status == StatusOK }

// DoorStation is the door-station personality: it answers monitoring calls
// silently, places visitor calls with early media, and opens the door on
// INFO/MESSAGE JSON, INFO DTMF or RFC 2833 '*' inside a known dialog.
type DoorStation struct {
	*Endpoint
	dedupe   *dedupe
	rateMu   sync.Mutex
	lastOpen time.Time
}

// NewDoorStation listens on addr (UDP and TCP).
func NewDoorStation(addr string, opts ...DoorOption) (*DoorStation, error) {
	o := defaultOptions()
	for _, f := range opts {
		f.applyDoor(&o)
	}
	o.sinkUnlock()
	d := &DoorStation{dedupe: newDedupe(o.dedupeWindow)}
	ep, err := newEndpoint(addr, o, func(ep *Endpoint) {
		d.Endpoint = ep
		ep.onInDialog = d.handleInDialog
		ep.onDigit = d.handleDigit
		ep.checkSources = true
	})
	if err != nil {
		return nil, err
	}
	_ = ep // set by setup, before serving
	return d, nil
}

// CallRoom places a visitor call (early media, §5.1). target is a user
// ("1202", resolved at the registrar we are registered with) or a full URI.
func (d *DoorStation) CallRoom(ctx context.Context, target string) (*Call, error) {
	return d.callTarget(ctx, target)
}

var acceptHeader = sip.NewHeader("Accept", "application/json, application/dtmf-relay, application/dtmf")

func (d *DoorStation) handleInDialog(c *Call, req *sip.Request, tx sip.ServerTransaction) {
	ct := contentType(req)
	body := req.Body()
	ok := func() { _ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)) }
	switch ct {
	case "application/dtmf-relay", "application/dtmf":
		var digit byte
		var err error
		ch := ChannelDTMFRelay
		if ct == "application/dtmf" {
			ch = ChannelDTMFInfo
			digit, err = ParseDTMF(body)
		} else {
			digit, _, err = ParseDTMFRelay(body)
		}
		if err != nil {
			d.cnt.malformed.Add(1)
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad DTMF", nil))
			return
		}
		ok()
		src, _ := sourceAddr(req)
		d.handleDigit(c, digit, ch, req.CSeq().Value(), src)
	case "application/media_control+xml":
		ok()
	case "", "application/json", "text/plain", "application/x-www-form-urlencoded":
		if len(body) == 0 {
			ok()
			return
		}
		ch := ChannelInfoJSON
		if req.Method == sip.MESSAGE {
			ch = ChannelMessageJSON
		}
		d.handleJSON(c, req, tx, ch)
	default:
		res := sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(acceptHeader)
		_ = tx.Respond(res)
	}
}

func jsonResponse(req *sip.Request, r UnlockReply) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", r.Marshal())
	res.AppendHeader(sip.NewHeader("Content-Type", "application/json"))
	return res
}

// handleJSON implements §6.3 DoorUA steps 3–6.
func (d *DoorStation) handleJSON(c *Call, req *sip.Request, tx sip.ServerTransaction, ch UnlockChannel) {
	cmd, err := ParseUnlockCommand(req.Body())
	if err != nil {
		d.cnt.malformed.Add(1)
		res := cmd.Req
		if res == "" {
			res = "unlock"
		}
		_ = tx.Respond(jsonResponse(req, UnlockReply{Res: res, ReqSN: cmd.ReqSN, Status: StatusMalformed}))
		return
	}
	if cmd.Req != "unlock" {
		_ = tx.Respond(jsonResponse(req, UnlockReply{Res: cmd.Req, ReqSN: cmd.ReqSN, Status: StatusUnknownReq}))
		return
	}
	c.mu.Lock()
	remoteTag, peer, early := c.remoteTag, c.peer, c.isEarly
	c.mu.Unlock()
	key := c.callID + "/" + remoteTag + "/" + strconv.Itoa(cmd.ReqSN)
	e, dup := d.dedupe.begin(key, time.Now())
	if dup {
		d.cnt.dups.Add(1)
		select {
		case <-e.done:
			_ = tx.Respond(jsonResponse(req, e.reply))
		case <-time.After(d.o.openerBound):
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		}
		return
	}
	src, _ := sourceAddr(req)
	ur := UnlockRequest{Channel: ch, CallID: c.callID, Peer: peer, Claimed: cmd.SIP, ReqSN: cmd.ReqSN, Early: early, Source: src}
	run := func() {
		st := d.unlock(context.Background(), c, ur, key)
		e.reply = UnlockReply{Res: "unlock", ReqSN: cmd.ReqSN, Status: st}
		close(e.done)
	}
	if !d.spawn(run) {
		run() // closing: finish inline, the reply still goes out
	}
	timer := time.NewTimer(d.o.openerBound)
	defer timer.Stop()
	select {
	case <-e.done:
		_ = tx.Respond(jsonResponse(req, e.reply))
	case <-timer.C:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	// The result INFOs follow the 200 OK (§6.3 step 5), never precede it.
	if d.o.responseViaInfo && !(early && c.outgoing) {
		d.spawn(func() {
			<-e.done
			d.sendResultInfo(c, e.reply)
		})
	}
}

// sendResultInfo sends the JSON result twice as in-dialog INFO (§6.2 dual
// packet). A dialog that ended meanwhile drops it (§13).
func (d *DoorStation) sendResultInfo(c *Call, r UnlockReply) {
	body := r.Marshal()
	ctx, cancel := context.WithTimeout(context.Background(), d.o.unlockBudget)
	defer cancel()
	var txs []sip.ClientTransaction
	for i := 0; i < 2; i++ {
		tx, err := c.transaction(ctx, sip.INFO, "application/json", body)
		if err != nil {
			break
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		select {
		case <-tx.Responses():
		case <-tx.Done():
		case <-ctx.Done():
		}
		tx.Terminate()
	}
}

// handleDigit feeds a DTMF digit to the call's unlock-sequence matcher.
func (d *DoorStation) handleDigit(c *Call, digit byte, ch UnlockChannel, id string, src netip.Addr) {
	c.mu.Lock()
	if c.matcher == nil {
		c.matcher = newDigitMatcher(d.o.unlockDigits, 3*time.Second)
	}
	m, peer, early := c.matcher, c.peer, c.isEarly
	c.mu.Unlock()
	if !m.Feed(digit, time.Now()) {
		return
	}
	ur := UnlockRequest{Channel: ch, CallID: c.callID, Peer: peer, Early: early, Source: src}
	id = c.callID + "/" + ch.String() + "/" + id + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if !d.spawn(func() { d.unlock(context.Background(), c, ur, id) }) {
		d.unlock(context.Background(), c, ur, id)
	}
}

// unlock runs policy, caps and the Opener, reports the event and returns the JSON status.
func (d *DoorStation) unlock(ctx context.Context, c *Call, r UnlockRequest, id string) int {
	st, err := d.decide(ctx, c, r)
	if st == StatusOK {
		d.cnt.granted.Add(1)
	} else {
		d.cnt.denied.Add(1)
	}
	d.log.Info("unlock", "channel", r.Channel.String(), "peer", r.Peer, "source", r.Source, "sip", r.Claimed, "reqsn", r.ReqSN, "status", st, "err", err)
	if d.o.onUnlock != nil {
		ev := UnlockEvent{ID: id, At: time.Now(), UnlockRequest: r, Status: st, Err: err}
		if serr := d.o.onUnlock(ctx, ev); serr != nil {
			d.cnt.sinkFail.Add(1)
			d.log.Error("unlock event not delivered", "id", id, "err", serr)
		}
	}
	return st
}

func (d *DoorStation) decide(ctx context.Context, c *Call, r UnlockRequest) (int, error) {
	if !d.allowed(r.Source) {
		d.cnt.notAllowed.Add(1)
		return StatusForbidden, fmt.Errorf("%w: source %v is not allowed", ErrUnlockDenied, r.Source)
	}
	if r.Early && !d.o.allowEarlyUnlock {
		return StatusForbidden, errors.New("early-dialog unlock disabled")
	}
	c.mu.Lock()
	if d.o.maxUnlocksPerCall > 0 && c.unlocks >= d.o.maxUnlocksPerCall {
		c.mu.Unlock()
		return StatusForbidden, errors.New("unlocks per call exceeded")
	}
	c.unlocks++
	c.mu.Unlock()
	if d.o.policy != nil {
		if err := d.o.policy(ctx, r); err != nil {
			if errors.Is(err, ErrUnlockDisabled) {
				return StatusDisabled, err
			}
			return StatusForbidden, err
		}
	}
	if d.o.rateLimit > 0 {
		d.rateMu.Lock()
		now := time.Now()
		if now.Sub(d.lastOpen) < d.o.rateLimit {
			d.rateMu.Unlock()
			return StatusLockBusy, errors.New("rate limited")
		}
		d.lastOpen = now
		d.rateMu.Unlock()
	}
	if d.o.opener == nil {
		return StatusDriverError, errors.New("no opener configured")
	}
	if err := d.o.opener.Open(ctx, r); err != nil {
		return StatusDriverError, err
	}
	return StatusOK, nil
}

// dedupe remembers (Call-ID, remote tag, reqsn) for a window (§6.2).
type dedupe struct {
	mu      sync.Mutex
	window  time.Duration
	entries map[string]*dedupeEntry
	sweep   time.Time
}

type dedupeEntry struct {
	at    time.Time
	done  chan struct{}
	reply UnlockReply
}

func newDedupe(w time.Duration) *dedupe {
	return &dedupe{window: w, entries: map[string]*dedupeEntry{}}
}

// begin returns the entry for key and whether it is a duplicate within the window.
func (dd *dedupe) begin(key string, now time.Time) (*dedupeEntry, bool) {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	if now.Sub(dd.sweep) > dd.window {
		for k, e := range dd.entries {
			if now.Sub(e.at) > dd.window {
				delete(dd.entries, k)
			}
		}
		dd.sweep = now
	}
	if e, ok := dd.entries[key]; ok && now.Sub(e.at) <= dd.window {
		return e, true
	}
	e := &dedupeEntry{at: now, done: make(chan struct{})}
	dd.entries[key] = e
	return e, false
}
