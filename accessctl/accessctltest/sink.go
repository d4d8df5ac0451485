package accessctltest

import (
	"context"
	"errors"
	"sync"

	"github.com/menjin/menjin/accessctl"
)

// ErrRefused is what a Sink answers for an event it was told to refuse.
var ErrRefused = errors.New("accessctltest: sink refuses (on purpose)")

// maxKept bounds what a Sink remembers; the oldest half goes first.
const maxKept = 4096

// Delivery is one event a Sink was handed, with the device side's
// acknowledgement count (Fixture.Acks) at that moment.
type Delivery struct {
	Event   accessctl.Event
	Refused bool
	Acks    int // -1 when the fixture cannot count acknowledgements
}

// Sink is the EventSink a fixture gives its driver, so that the suite can
// see what arrives and refuse events on purpose. Its zero value is not
// ready: use NewSink.
type Sink struct {
	mu     sync.Mutex
	log    []Delivery
	refuse map[accessctl.EventKind]int
	acks   func() int
}

// NewSink returns a sink that accepts everything until told otherwise.
func NewSink() *Sink { return &Sink{refuse: map[accessctl.EventKind]int{}} }

// Handle implements accessctl.EventSink.
func (s *Sink) Handle(ctx context.Context, e accessctl.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	acks := s.acks
	s.mu.Unlock()
	d := Delivery{Event: e, Acks: -1}
	if acks != nil {
		d.Acks = acks() // outside s.mu: the fixture may take its own locks
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse[e.Kind] > 0 {
		s.refuse[e.Kind]--
		d.Refused = true
	}
	if len(s.log) >= maxKept {
		s.log = append(s.log[:0], s.log[maxKept/2:]...)
	}
	s.log = append(s.log, d)
	if d.Refused {
		return ErrRefused
	}
	return nil
}

// RefuseNext makes the sink refuse the next n events of kind.
func (s *Sink) RefuseNext(kind accessctl.EventKind, n int) {
	s.mu.Lock()
	s.refuse[kind] += n
	s.mu.Unlock()
}

// Deliveries returns what the sink was handed so far, refused or not.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.log...)
}

// Accepted returns the events the sink accepted, in order.
func (s *Sink) Accepted() []accessctl.Event {
	var out []accessctl.Event
	for _, d := range s.Deliveries() {
		if !d.Refused {
			out = append(out, d.Event)
		}
	}
	return out
}

func (s *Sink) watchAcks(f func() int) {
	s.mu.Lock()
	s.acks = f
	s.mu.Unlock()
}

// Of returns the deliveries of events of kind, refused or not, in order.
func (s *Sink) Of(kind accessctl.EventKind) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if d.Event.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}
