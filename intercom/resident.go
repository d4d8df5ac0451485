package intercom

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ResultSource says where an unlock result travelled (§6.3).
type ResultSource string

const (
	ResultIn2xx     ResultSource = "2xx-body"
	ResultInINFO    ResultSource = "info"
	ResultInMESSAGE ResultSource = "message"
)

// UnlockResult is the typed outcome of Call.Unlock.
type UnlockResult struct {
	ReqSN     int
	Status    int          // JSON status from the door; 0 when none arrived
	Source    ResultSource // where the status came from
	Elapsed   time.Duration
	SIPStatus [2]int // final SIP status of the two INFO transactions (0 = none yet)
}

// OK reports whether the door confirmed the unlock.
func (r UnlockResult) OK() bool { return r.Status == StatusOK }

type unlockResp struct {
	reply UnlockReply
	src   ResultSource
}

// Resident is the indoor-unit / app personality: it calls or answers a door
// station and sends unlocks.
type Resident struct {
	*Endpoint
	incoming chan *Call
}

// NewResident listens on addr (UDP and TCP). Incoming door calls are answered
// when WithAutoAnswer is on (default) and delivered on Incoming.
func NewResident(addr string, opts ...ResidentOption) (*Resident, error) {
	o := defaultOptions()
	for _, f := range opts {
		f.applyResident(&o)
	}
	r := &Resident{incoming: make(chan *Call, 8)}
	ep, err := newEndpoint(addr, o, func(ep *Endpoint) {
		r.Endpoint = ep
		ep.onInDialog = r.handleInDialog
		ep.onIncoming = func(c *Call, _ *sip.Request) int {
			if !o.autoAnswer {
				return 486
			}
			return 0
		}
		ep.onAnswered = func(c *Call) {
			select {
			case r.incoming <- c:
			default: // nobody reads Incoming: the call still works through Calls()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	_ = ep // set by setup, before serving
	return r, nil
}

// Incoming delivers answered incoming calls (buffered; excess are not queued).
func (r *Resident) Incoming() <-chan *Call { return r.incoming }

// CallDoor calls a door station (monitoring, §5.2): target is a full URI or a
// user resolved at our registrar.
func (r *Resident) CallDoor(ctx context.Context, target string) (*Call, error) {
	return r.callTarget(ctx, target)
}

// handleInDialog answers every INFO/MESSAGE with 200 and hands JSON unlock
// results to a waiting Unlock.
func (r *Resident) handleInDialog(c *Call, req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	if len(req.Body()) == 0 {
		return
	}
	rep, err := ParseUnlockReply(req.Body())
	if err != nil {
		return
	}
	src := ResultInINFO
	if req.Method == sip.MESSAGE {
		src = ResultInMESSAGE
	}
	c.deliver(rep, src)
}

func (c *Call) deliver(rep UnlockReply, src ResultSource) {
	c.mu.Lock()
	w := c.waiters[rep.ReqSN]
	c.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w <- unlockResp{rep, src}:
	default:
	}
}

// Unlock sends the unlock command per §6.3: two INFO transactions with the
// same reqsn, success from a 2xx body or a returned INFO/MESSAGE within the
// budget (3 s). Errors: ErrUnlockTimeout, ErrUnlockRejected (*StatusError with
// the JSON or SIP status), ErrNoDialog when both INFOs got 481.
func (c *Call) Unlock(ctx context.Context) (UnlockResult, error) {
	sn := c.ep.nextReqSN()
	res := UnlockResult{ReqSN: sn}
	body := UnlockCommand{Req: "unlock", ReqSN: sn, SIP: c.ep.o.user}.Marshal()
	w := make(chan unlockResp, 4)
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return res, ErrNoDialog
	}
	c.waiters[sn] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, sn)
		c.mu.Unlock()
	}()

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.ep.o.unlockBudget)
	defer cancel()
	type final struct {
		i   int
		res *sip.Response
		err error
	}
	finals := make(chan final, 2)
	sent := 0
	for i := 0; i < 2; i++ {
		tx, err := c.transaction(ctx, sip.INFO, "application/json", body)
		if err != nil {
			finals <- final{i: i, err: err}
			continue
		}
		sent++
		go func(i int, tx sip.ClientTransaction) {
			defer tx.Terminate()
			for {
				select {
				case r := <-tx.Responses():
					if r.IsProvisional() {
						continue
					}
					finals <- final{i: i, res: r}
				case <-tx.Done():
					finals <- final{i: i, err: tx.Err()}
				case <-ctx.Done():
					finals <- final{i: i, err: ctx.Err()}
				}
				return
			}
		}(i, tx)
	}
	_ = sent
	failed, nodialog := 0, 0
	done := func(rep UnlockReply, src ResultSource) (UnlockResult, error) {
		res.Status, res.Source, res.Elapsed = rep.Status, src, time.Since(start)
		if rep.OK() {
			return res, nil
		}
		return res, &StatusError{Kind: ErrUnlockRejected, Status: rep.Status}
	}
	for {
		select {
		case f := <-finals:
			if f.res != nil {
				res.SIPStatus[f.i] = f.res.StatusCode
			}
			if f.res != nil && f.res.IsSuccess() {
				if rep, err := ParseUnlockReply(f.res.Body()); err == nil && rep.ReqSN == sn && strings.EqualFold(rep.Res, "unlock") {
					return done(rep, ResultIn2xx)
				}
				continue // 200 without body: the result comes by INFO
			}
			failed++
			if f.res != nil && f.res.StatusCode == 481 {
				nodialog++
			}
			if failed == 2 {
				res.Elapsed = time.Since(start)
				if nodialog == 2 {
					return res, ErrNoDialog
				}
				if f.res == nil {
					if errors.Is(f.err, context.DeadlineExceeded) {
						return res, ErrUnlockTimeout
					}
					return res, f.err
				}
				return res, &StatusError{Kind: ErrUnlockRejected, Status: f.res.StatusCode, Reason: f.res.Reason}
			}
		case r, ok := <-w:
			if !ok {
				res.Elapsed = time.Since(start)
				return res, ErrNoDialog
			}
			if strings.EqualFold(r.reply.Res, "unlock") {
				return done(r.reply, r.src)
			}
		case <-ctx.Done():
			res.Elapsed = time.Since(start)
			return res, ErrUnlockTimeout
		}
	}
}
