package accessctltest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// FakeDevice is an in-memory device for host tests: it holds grants, counts
// door openings, goes offline on demand and fails the calls it is told to.
// It implements accessctl.Device, PermissionSync, GrantLister and
// GrantGetter.
type FakeDevice struct {
	id string

	mu       sync.Mutex
	online   bool
	closed   bool
	since    time.Time
	grants   map[string]accessctl.Grant
	opens    int
	failNext []error
	sink     accessctl.EventSink
	seq      int
	unacked  []accessctl.Event // reported, not yet accepted by the sink
	acks     int

	sendMu sync.Mutex // one delivery at a time keeps the events in order
}

// maxUnacked is how many unacknowledged events the fake keeps, as a
// terminal's record memory would.
const maxUnacked = 64

// NewFakeDevice returns an online fake with the given id. Events it reports
// (Pass, SetOnline) go to sink, which may be nil.
func NewFakeDevice(id string, sink accessctl.EventSink) *FakeDevice {
	if sink == nil {
		sink = accessctl.Discard
	}
	return &FakeDevice{id: id, online: true, since: time.Now(), grants: map[string]accessctl.Grant{}, sink: sink}
}

// ID implements accessctl.Device.
func (d *FakeDevice) ID() string { return d.id }

// Status implements accessctl.Device.
func (d *FakeDevice) Status(ctx context.Context) (accessctl.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := accessctl.Status{Device: accessctl.DeviceRef{ID: d.id}, Online: d.online && !d.closed, Since: d.since}
	if st.Online {
		st.LastSeen = time.Now()
	}
	return st, nil
}

// begin checks the preconditions every call shares. Callers hold mu.
func (d *FakeDevice) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed {
		return accessctl.ErrClosed
	}
	if !d.online {
		return fmt.Errorf("fake %s: %w", d.id, accessctl.ErrOffline)
	}
	if len(d.failNext) > 0 {
		err := d.failNext[0]
		d.failNext = d.failNext[1:]
		return err
	}
	return nil
}

// OpenDoor implements accessctl.Device.
func (d *FakeDevice) OpenDoor(ctx context.Context, _ accessctl.OpenRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(ctx); err != nil {
		return err
	}
	d.opens++
	return nil
}

// Close implements accessctl.Device.
func (d *FakeDevice) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

// PutGrant implements accessctl.PermissionSync.
func (d *FakeDevice) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if g.Person.ID == "" {
		return fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(ctx); err != nil {
		return err
	}
	d.grants[g.Person.ID] = g
	return nil
}

// RemoveGrant implements accessctl.PermissionSync.
func (d *FakeDevice) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(ctx); err != nil {
		return err
	}
	delete(d.grants, p.ID)
	return nil
}

// ListGrants implements accessctl.GrantLister.
func (d *FakeDevice) ListGrants(ctx context.Context) ([]accessctl.PersonRef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(ctx); err != nil {
		return nil, err
	}
	refs := make([]accessctl.PersonRef, 0, len(d.grants))
	for _, g := range d.grants {
		refs = append(refs, g.Person)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID < refs[j].ID })
	return refs, nil
}

// GetGrant implements accessctl.GrantGetter.
func (d *FakeDevice) GetGrant(ctx context.Context, p accessctl.PersonRef) (accessctl.Grant, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(ctx); err != nil {
		return accessctl.Grant{}, err
	}
	g, ok := d.grants[p.ID]
	if !ok {
		return accessctl.Grant{}, accessctl.ErrNotFound
	}
	return g, nil
}

// Holds reports whether the fake holds the person, and the name it holds.
func (d *FakeDevice) Holds(personID string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.grants[personID]
	return g.Name, ok
}

// Forget drops persons on the device side, online or not, as a factory
// reset or a replaced terminal would; with no ids it drops everyone.
func (d *FakeDevice) Forget(personIDs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(personIDs) == 0 {
		clear(d.grants)
		return
	}
	for _, id := range personIDs {
		delete(d.grants, id)
	}
}

// DoorOpens counts successful OpenDoor calls.
func (d *FakeDevice) DoorOpens() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens
}

// FailNext makes the next calls fail with errs, one each, in order.
func (d *FakeDevice) FailNext(errs ...error) {
	d.mu.Lock()
	d.failNext = append(d.failNext, errs...)
	d.mu.Unlock()
}

// SetOnline takes the fake on- or offline and reports the change to its sink.
func (d *FakeDevice) SetOnline(ctx context.Context, online bool) error {
	d.mu.Lock()
	if d.online == online {
		d.mu.Unlock()
		return nil
	}
	d.online, d.since = online, time.Now()
	kind := accessctl.KindOffline
	if online {
		kind = accessctl.KindOnline
	}
	e := d.event(kind)
	st := accessctl.Status{Device: e.Device, Online: online, Since: d.since}
	e.Status = &st
	d.mu.Unlock()
	return d.sink.Handle(ctx, e)
}

// Pass reports a granted pass of the person to the fake's sink. Like a
// terminal, the fake keeps the event until the sink accepts it: an error
// leaves it queued, and the next Pass or Redeliver sends it again, with the
// same id, before anything newer.
func (d *FakeDevice) Pass(ctx context.Context, personID string) error {
	d.mu.Lock()
	if len(d.unacked) >= maxUnacked {
		d.mu.Unlock()
		return d.Redeliver(ctx) // memory full: the new pass is not recorded
	}
	e := d.event(accessctl.KindPass)
	e.Pass = &accessctl.PassEvent{
		Person:     &accessctl.PersonRef{ID: personID},
		PersonName: d.grants[personID].Name,
		Method:     accessctl.MethodFace,
		Kind:       accessctl.PassGranted,
		Result:     accessctl.Result{Granted: true, Message: "success"},
	}
	d.unacked = append(d.unacked, e)
	d.mu.Unlock()
	return d.Redeliver(ctx)
}

// Redeliver sends the events the sink has not accepted yet, oldest first,
// and stops at the first refusal.
func (d *FakeDevice) Redeliver(ctx context.Context) error {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	for {
		d.mu.Lock()
		if len(d.unacked) == 0 {
			d.mu.Unlock()
			return nil
		}
		e := d.unacked[0]
		d.mu.Unlock()
		if err := d.sink.Handle(ctx, e); err != nil {
			return err
		}
		d.mu.Lock()
		d.unacked = d.unacked[1:]
		d.acks++
		d.mu.Unlock()
	}
}

// Acks counts the events the sink accepted (the device's acknowledgements).
func (d *FakeDevice) Acks() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.acks
}

// Unacked counts the events waiting for the sink.
func (d *FakeDevice) Unacked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.unacked)
}

// event builds an envelope with a fresh id. Callers hold mu.
func (d *FakeDevice) event(kind accessctl.EventKind) accessctl.Event {
	d.seq++
	now := time.Now()
	return accessctl.Event{
		ID:         fmt.Sprintf("%s-%d", d.id, d.seq),
		Kind:       kind,
		Device:     accessctl.DeviceRef{ID: d.id},
		OccurredAt: now,
		TimeSource: accessctl.TimeDevice,
		ReceivedAt: now,
	}
}
