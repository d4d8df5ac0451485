package thingmodel

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"sync"
	"sync/atomic"
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
	k := pendingKey{dev, r.ID}
	p.mu.Lock()
	w, ok := p.m[k]
	if ok {
		delete(p.m, k)
	}
	p.mu.Unlock()
	if ok {
		w.ch <- result{reply: r}
	}
	return ok
}

// failID fails one waiter (a reply we could match by id but not decode).
func (p *pending) failID(dev DeviceKey, id string, err error) bool {
	k := pendingKey{dev, id}
	p.mu.Lock()
	w, ok := p.m[k]
	if ok {
		delete(p.m, k)
	}
	p.mu.Unlock()
	if ok {
		w.ch <- result{err: err}
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
