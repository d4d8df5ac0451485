package thingmodel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// idGen hands out Alink ids: decimal uint32 strings (the protocol's range),
// starting at a random point so that a restarted host does not reuse the
// ids of its previous life while late replies are still in flight.
type idGen struct{ n atomic.Uint32 }

func newIDGen() *idGen {
	var b [4]byte
	_, _ = rand.Read(b[:])
	g := &idGen{}
	g.n.Store(binary.LittleEndian.Uint32(b[:]))
	return g
}

func (g *idGen) next() string { return strconv.FormatUint(uint64(g.n.Add(1)), 10) }

type pendingKey struct {
	dev DeviceKey
	id  string
}

type result struct {
	reply *Reply
	err   error
}

type waiter struct {
	topic TopicKind // reply kind expected
	ident string
	ch    chan result // buffered 1: resolving never blocks
}

// pending correlates requests with replies by (device, id).
type pending struct {
	mu sync.Mutex
	m  map[pendingKey]*waiter
}

func newPending() *pending { return &pending{m: make(map[pendingKey]*waiter)} }

// add registers a waiter under a fresh id from gen.
func (p *pending) add(gen *idGen, dev DeviceKey, kind TopicKind, ident string) (string, *waiter) {
	w := &waiter{topic: kind, ident: ident, ch: make(chan result, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		id := gen.next()
		k := pendingKey{dev, id}
		if _, taken := p.m[k]; !taken { // after 2^32 ids, skip ones still waiting
			p.m[k] = w
			return id, w
		}
	}
}

func (p *pending) remove(dev DeviceKey, id string) {
	p.mu.Lock()
	delete(p.m, pendingKey{dev, id})
	p.mu.Unlock()
}

// resolve hands a reply to its waiter; false when nobody waits for it.
func (p *pending) resolve(dev DeviceKey, r *Reply) bool {
	return p.deliver(dev, r.ID, result{reply: r})
}

// failID fails one waiter (a reply we could match by id but not decode).
func (p *pending) failID(dev DeviceKey, id string, err error) bool {
	return p.deliver(dev, id, result{err: err})
}

func (p *pending) deliver(dev DeviceKey, id string, res result) bool {
	k := pendingKey{dev, id}
	p.mu.Lock()
	w, ok := p.m[k]
	if ok {
		delete(p.m, k)
	}
	p.mu.Unlock()
	if ok {
		w.ch <- res
	}
	return ok
}

// failSole fails the waiter for (dev, kind, ident) when it is the only one:
// a reply without a readable id can then only be for it.
func (p *pending) failSole(dev DeviceKey, kind TopicKind, ident string, err error) bool {
	p.mu.Lock()
	var found pendingKey
	n := 0
	for k, w := range p.m {
		if k.dev == dev && w.topic == kind && w.ident == ident {
			found = k
			n++
		}
	}
	var w *waiter
	if n == 1 {
		w = p.m[found]
		delete(p.m, found)
	}
	p.mu.Unlock()
	if w != nil {
		w.ch <- result{err: err}
	}
	return w != nil
}

// failDevice fails every waiter of one device (it went offline); a nil dev
// fails all (close).
func (p *pending) failDevice(dev *DeviceKey, err error) {
	p.mu.Lock()
	var ws []*waiter
	for k, w := range p.m {
		if dev == nil || k.dev == *dev {
			ws = append(ws, w)
			delete(p.m, k)
		}
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.ch <- result{err: err}
	}
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// call is one request/response exchange, for the Host's invokes and the
// device's posts alike: register a waiter, publish the request carrying its
// id, wait for the reply, the timeout or ctx. A reply with an error code is
// returned together with its *ReplyError; both timeouts give ErrTimeout.
func (p *pending) call(ctx context.Context, gen *idGen, t Topic, params json.RawMessage, timeout time.Duration,
	publish func(ctx context.Context, topic string, payload []byte) error) (*Reply, error) {
	if ctxDone(ctx) { // nothing is sent for a caller that already gave up
		return nil, ctxErr(ctx, t.Method(), t.Device)
	}
	rt := t.ReplyTopic()
	id, w := p.add(gen, t.Device, rt.Kind, rt.Identifier)
	req := &Request{ID: id, Version: Version, Params: params, Method: t.Method()}
	b, err := req.Encode()
	if err == nil {
		err = publish(ctx, t.String(), b)
	}
	if err != nil {
		p.remove(t.Device, id)
		if ctxDone(ctx) {
			return nil, ctxErr(ctx, req.Method, t.Device)
		}
		return nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-w.ch:
		if res.err != nil {
			return nil, res.err
		}
		return res.reply, res.reply.Err(t.Device, req.Method)
	case <-timer.C:
		p.remove(t.Device, id)
		if ctxDone(ctx) { // both expired: the caller's context speaks first
			return nil, ctxErr(ctx, req.Method, t.Device)
		}
		return nil, fmt.Errorf("%w: %s on %s after %v", ErrTimeout, req.Method, t.Device, timeout)
	case <-ctx.Done():
		p.remove(t.Device, id)
		return nil, ctxErr(ctx, req.Method, t.Device)
	}
}

// ctxDone reports whether ctx is cancelled or past its deadline (its timer
// may not have fired yet on a loaded machine).
func ctxDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// ctxErr is ErrTimeout for a deadline and the context's own error otherwise.
func ctxErr(ctx context.Context, method string, dev DeviceKey) error {
	err := ctx.Err()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s on %s: %w", ErrTimeout, method, dev, context.DeadlineExceeded)
	}
	return err
}
