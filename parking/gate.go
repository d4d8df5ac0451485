package parking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// gateQueue serialises a barrier's commands: one in flight, executed in
// the order they were submitted (§11 item 18). A close racing an open is
// therefore ordered, never interleaved on the wire.
type gateQueue struct {
	cam     Camera
	confirm time.Duration // wait for GateState to follow a command; 0: do not
	reqs    chan *gateReq
	done    chan struct{}
	wg      sync.WaitGroup

	keepOpen atomic.Bool
	seq      atomic.Uint64

	sent, refused, failed, unconfirmed atomic.Uint64
}

type gateReq struct {
	ctx   context.Context
	cmd   GateCommand
	auto  bool // from a lane decision, not an operator
	force bool // close even onto a vehicle
	seq   uint64
	res   chan gateResult
}

type gateResult struct {
	err  error
	sent bool
	seq  uint64
}

func newGateQueue(cam Camera, confirm time.Duration) *gateQueue {
	g := &gateQueue{cam: cam, confirm: confirm, reqs: make(chan *gateReq), done: make(chan struct{})}
	g.wg.Add(1)
	go g.run()
	return g
}

func (g *gateQueue) close() {
	close(g.done)
	g.wg.Wait()
}

func (g *gateQueue) submit(ctx context.Context, cmd GateCommand, auto, force bool) gateResult {
	r := &gateReq{ctx: ctx, cmd: cmd, auto: auto, force: force, res: make(chan gateResult, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return gateResult{err: ctx.Err()}
	case <-g.done:
		return gateResult{err: errClosed}
	}
	select {
	case res := <-r.res:
		return res
	case <-g.done:
		// run answers every request it took before it stops.
		return <-r.res
	}
}

var errClosed = errors.New("parking: lane closed")

func (g *gateQueue) run() {
	defer g.wg.Done()
	for {
		select {
		case <-g.done:
			return
		case r := <-g.reqs:
			r.seq = g.seq.Add(1)
			r.res <- g.exec(r)
		}
	}
}

func (g *gateQueue) exec(r *gateReq) gateResult {
	res := gateResult{seq: r.seq}
	if err := r.ctx.Err(); err != nil {
		res.err = err
		return res
	}
	w, watch := g.cam.(GateWatcher)
	switch r.cmd {
	case GateClose:
		if r.auto && g.keepOpen.Load() {
			g.refused.Add(1)
			res.err = ErrKeepOpen
			return res
		}
		if watch && !r.force && w.VehicleState() == VehiclePresent {
			g.refused.Add(1)
			res.err = ErrVehiclePresent
			return res
		}
	}
	// An open is sent even when the barrier reports itself open (§11 item
	// 18 would skip it): the report may predate a close that is still on
	// its way, and a skipped open strands a car while a repeated one is
	// harmless. Repeats of one car are caught by the lane's duplicate window.
	if err := g.cam.OperateGate(r.ctx, r.cmd); err != nil {
		g.failed.Add(1)
		res.err = err
		return res
	}
	g.sent.Add(1)
	if watch && g.confirm > 0 {
		if err := g.confirmState(r.ctx, w, r.cmd); err != nil {
			g.unconfirmed.Add(1)
			res.err = err
		}
	}
	switch r.cmd {
	case GateKeepOpen:
		g.keepOpen.Store(true)
	case GateClose:
		g.keepOpen.Store(false) // an explicit close cancels keep-open (§10 G25)
	}
	res.sent = true
	return res
}

// confirmState waits for the camera's GateState to follow cmd (§11 item
// 20): opening or opened after an open, closing or closed after a close.
func (g *gateQueue) confirmState(ctx context.Context, w GateWatcher, cmd GateCommand) error {
	want := func(s GateState) bool { return s.Open() }
	if cmd == GateClose {
		want = func(s GateState) bool { return s == GateClosing || s == GateClosed }
	}
	deadline := time.NewTimer(g.confirm)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !want(w.GateState()) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w: barrier did not report %s within %v (now %s)", accessctl.ErrTimeout, cmd, g.confirm, w.GateState())
		case <-tick.C:
		}
	}
	return nil
}
