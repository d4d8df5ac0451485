package intercom

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Call is one INVITE dialog, incoming or outgoing, early or confirmed.
type Call struct {
	ep       *Endpoint
	outgoing bool
	callID   string
	localTag string
	srv      *sipgo.DialogServerSession
	cli      *sipgo.DialogClientSession
	rtp      *net.UDPConn
	localSDP []byte
	done     chan struct{}
	endOnce  sync.Once
	limit    *time.Timer
	acked    chan struct{} // incoming calls: closed once the 2xx was ACKed
	sendMu   sync.Mutex    // serialises CSeq allocation of our in-dialog requests
	mediaOn  atomic.Bool

	mu         sync.Mutex
	remoteTag  string
	peer       string
	state      CallState
	isEarly    bool
	remote     SessionMedia
	tePT       int
	keys       []string
	remoteCSeq uint32
	unlocks    int
	err        error
	waiters    map[int]chan unlockResp
	matcher    *digitMatcher
	peers      peerSet // socket sources in-dialog requests may come from
	pending    bool    // incoming, answered, not yet ACKed (under ep.mu)
}

// CallID returns the SIP Call-ID.
func (c *Call) CallID() string { return c.callID }

// Peer returns the remote party's user part.
func (c *Call) Peer() string { c.mu.Lock(); defer c.mu.Unlock(); return c.peer }

// Outgoing reports whether we placed the call.
func (c *Call) Outgoing() bool { return c.outgoing }

// State returns the current call state.
func (c *Call) State() CallState { c.mu.Lock(); defer c.mu.Unlock(); return c.state }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err returns why the call ended abnormally, if it did.
func (c *Call) Err() error { c.mu.Lock(); defer c.mu.Unlock(); return c.err }

// RemoteMedia returns what the peer's SDP said (address, codecs, telephone-event).
func (c *Call) RemoteMedia() SessionMedia { c.mu.Lock(); defer c.mu.Unlock(); return c.remote }

// TelephoneEventPT returns the negotiated telephone-event payload type, or -1.
func (c *Call) TelephoneEventPT() int { c.mu.Lock(); defer c.mu.Unlock(); return c.tePT }

// LocalRTPAddr is where we receive RTP for this call.
func (c *Call) LocalRTPAddr() *net.UDPAddr {
	if c.rtp == nil {
		return nil
	}
	return c.rtp.LocalAddr().(*net.UDPAddr)
}

func (c *Call) setState(s CallState) {
	c.mu.Lock()
	if c.state == CallEnded || c.state == s {
		c.mu.Unlock()
		return
	}
	c.state = s
	peer := c.peer
	c.mu.Unlock()
	c.ep.emitCall(CallEvent{State: s, CallID: c.callID, Peer: peer})
}

// early records an early dialog from a 18x (§5.1): register it for in-dialog
// requests and take its SDP as the media target.
func (c *Call) early(tag string, body []byte) {
	c.mu.Lock()
	if c.callID == "" && c.cli != nil {
		c.callID = c.cli.InviteRequest.CallID().Value()
	}
	for _, k := range c.keys {
		if k == dialogKey(c.callID, c.localTag, tag) {
			c.mu.Unlock()
			c.applyAnswer(body)
			return
		}
	}
	c.isEarly = true
	c.remoteTag = tag
	c.mu.Unlock()
	c.ep.register(c, c.localTag, tag)
	if c.applyAnswer(body) {
		c.startMedia()
	}
	c.setState(CallEarly)
}

// confirm switches to the answered dialog and drops the other early forks.
func (c *Call) confirm(tag string, body []byte) {
	c.mu.Lock()
	c.isEarly = false
	c.remoteTag = tag
	keep := dialogKey(c.callID, c.localTag, tag)
	var drop []string
	for _, k := range c.keys {
		if k != keep {
			drop = append(drop, k)
		}
	}
	c.mu.Unlock()
	c.ep.mu.Lock()
	for _, k := range drop {
		delete(c.ep.calls, k)
	}
	c.ep.mu.Unlock()
	c.mu.Lock()
	c.keys = nil
	c.mu.Unlock()
	c.ep.register(c, c.localTag, tag)
	c.applyAnswer(body)
	c.startMedia()
}

// applyAnswer takes the telephone-event PT from an SDP answer.
func (c *Call) applyAnswer(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	sm, err := ParseSDP(body)
	if err != nil || sm.Audio == nil {
		return false
	}
	pt := -1
	tes := sm.Audio.TelephoneEvents()
	for _, f := range sm.Audio.Formats {
		if _, ok := tes[f]; ok {
			pt = int(f)
			break
		}
	}
	c.mu.Lock()
	c.remote, c.tePT = sm, pt
	c.mu.Unlock()
	return true
}

// acceptCSeq applies RFC 3261 §12.2.2 with a small reordering window: the
// dual-packet rule sends two INFOs back to back and goroutine-per-request
// handling may see CSeq n+1 before n.
func (c *Call) acceptCSeq(n uint32) bool {
	const window = 16
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remoteCSeq != 0 && n+window < c.remoteCSeq {
		return false
	}
	if n > c.remoteCSeq {
		c.remoteCSeq = n
	}
	return true
}

// startMedia reads RTP on the call's socket and decodes telephone-events
// (RFC 2833). No audio or video is processed.
func (c *Call) startMedia() {
	if c.rtp == nil {
		return
	}
	if !c.mediaOn.CompareAndSwap(false, true) {
		return
	}
	c.ep.spawn(func() {
		buf := make([]byte, 1500)
		var dd eventDeduper
		for {
			n, from, err := c.rtp.ReadFromUDP(buf)
			if err != nil {
				return
			}
			src := from.AddrPort().Addr().Unmap()
			if !c.mediaPeer(src) {
				continue // RTP is not authenticated: only the dialog's media or signalling peer counts
			}
			p, err := ParseRTP(buf[:n])
			if err != nil {
				continue
			}
			pt := c.TelephoneEventPT()
			if pt < 0 || int(p.PayloadType) != pt {
				continue
			}
			ev, err := DecodeTelephoneEvent(p.Payload)
			if err != nil || !ev.End || !dd.First(p.SSRC, p.Timestamp) {
				continue
			}
			if d := EventDigit(ev.Event); d != 0 && c.ep.onDigit != nil {
				c.ep.onDigit(c, d, ChannelRFC2833, "", src)
			}
		}
	})
}

// mediaPeer reports whether RTP from a may carry telephone-events: the
// address the peer's SDP named or one of the dialog's signalling peers.
func (c *Call) mediaPeer(a netip.Addr) bool {
	c.mu.Lock()
	ok := false
	if c.remote.Audio != nil {
		m, parsed := hostAddr(c.remote.Audio.Addr)
		ok = parsed && m == a
	}
	_, peer := c.peers[a]
	c.mu.Unlock()
	return ok || peer || c.ep.isRegistrar(a)
}

// end tears the call down locally: forget the dialog, close media, report.
func (c *Call) end(ev CallEvent, err error) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.state = CallEnded
		if err != nil && c.err == nil {
			c.err = err
		}
		peer := c.peer
		for sn, w := range c.waiters {
			close(w)
			delete(c.waiters, sn)
		}
		c.mu.Unlock()
		if c.limit != nil {
			c.limit.Stop()
		}
		if c.rtp != nil {
			c.rtp.Close()
		}
		c.ep.forget(c)
		if c.srv != nil {
			c.srv.Close()
		}
		if c.cli != nil {
			c.cli.Close()
		}
		close(c.done)
		ev.State, ev.CallID, ev.Peer = CallEnded, c.callID, peer
		c.ep.emitCall(ev)
	})
}

// Hangup sends BYE (or CANCEL while ringing is handled by Dial's context) and ends the call.
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	var err error
	if c.srv != nil {
		err = c.srv.Bye(ctx)
	} else if c.cli != nil {
		err = c.cli.Bye(ctx)
	}
	c.end(CallEvent{State: CallEnded}, nil)
	return err
}

// Request sends an in-dialog request (INFO, MESSAGE, ...) and returns the
// final response. Body may be nil.
func (c *Call) Request(ctx context.Context, method sip.RequestMethod, contentType string, body []byte) (*sip.Response, error) {
	tx, err := c.transaction(ctx, method, contentType, body)
	if err != nil {
		return nil, err
	}
	return waitFinal(ctx, tx)
}

func (c *Call) transaction(ctx context.Context, method sip.RequestMethod, contentType string, body []byte) (sip.ClientTransaction, error) {
	select {
	case <-c.done:
		return nil, ErrNoDialog
	default:
	}
	if c.acked != nil {
		select {
		case <-c.acked:
		case <-c.done:
			return nil, ErrNoDialog
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	var target sip.Uri
	if c.srv != nil {
		target = c.srv.InviteRequest.Contact().Address
	} else {
		target = c.cli.InviteRequest.Recipient
		if res := c.cli.InviteResponse; res != nil && res.Contact() != nil {
			target = res.Contact().Address
		}
	}
	req := sip.NewRequest(method, *target.Clone())
	if contentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	if method == sip.INFO {
		c.ep.cnt.infoSent.Add(1)
	}
	return c.ep.newTx(func() (sip.ClientTransaction, error) {
		if c.srv != nil {
			return c.srv.TransactionRequest(ctx, req)
		}
		return c.cli.TransactionRequest(ctx, req)
	})
}

func contentType(req *sip.Request) string {
	h := req.ContentType()
	if h == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}
