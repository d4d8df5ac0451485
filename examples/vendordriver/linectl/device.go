package linectl

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/menjin/menjin/accessctl"
)

// Device is a handle to one device of a Server.
type Device struct {
	s      *Server
	serial string
	closed atomic.Bool
}

// ID is the device's serial.
func (d *Device) ID() string { return d.serial }

// Status answers from the liveness tracker, online or not.
func (d *Device) Status(context.Context) (accessctl.Status, error) { return d.s.status(d.serial), nil }

// OpenDoor opens door req.Door.
func (d *Device) OpenDoor(ctx context.Context, req accessctl.OpenRequest) error {
	return d.do(ctx, "open door", "OPEN", fmt.Sprint(req.Door))
}

func (d *Device) do(ctx context.Context, op, verb string, args ...string) error {
	if d.closed.Load() {
		return fmt.Errorf("%w: %s", accessctl.ErrClosed, op)
	}
	return accessctl.MapTransportError(op, d.s.call(ctx, d.serial, verb, args...))
}

// Close releases the handle; the device stays connected.
func (d *Device) Close() error { d.closed.Store(true); return nil }

// cards are the card numbers of g, which must name a person and hold one.
func cards(g accessctl.Grant) ([]string, error) {
	var out []string
	for _, c := range g.Credentials {
		if c.Kind != accessctl.CredCard || c.Value == "" {
			return nil, fmt.Errorf("%w: linectl stores cards only, not %s", accessctl.ErrUnsupported, c.Kind)
		}
		out = append(out, c.Value)
	}
	if g.Person.ID == "" || len(out) == 0 {
		return nil, fmt.Errorf("%w: a grant needs a person id and a card", accessctl.ErrInvalid)
	}
	return out, nil
}

// PutGrant pushes the person's cards and removes the cards the person no
// longer has. The device cannot list cards, so the ledger records what was
// pushed: before pushing (it holds at least what the device holds), and
// narrowed to the new cards once the device confirmed.
func (d *Device) PutGrant(ctx context.Context, g accessctl.Grant) error {
	nums, err := cards(g)
	if err != nil {
		return err
	}
	ref := d.s.ref(d.serial)
	old, err := d.s.ledger.Get(ctx, ref, g.Person.ID)
	if err != nil {
		return err
	}
	entries := make([]accessctl.LedgerEntry, 0, len(nums))
	for _, n := range nums {
		entries = append(entries, accessctl.LedgerEntry{Kind: "card", Key: n})
	}
	if err := d.s.ledger.Put(ctx, ref, g.Person.ID, append(slices.Clone(old), entries...)); err != nil {
		return err
	}
	for _, n := range nums {
		if err := d.do(ctx, "put card", "PUT", n, g.Person.ID, g.Name); err != nil {
			return err
		}
	}
	for _, e := range old {
		if !slices.Contains(nums, e.Key) {
			if err := d.do(ctx, "remove card", "DEL", e.Key); err != nil {
				return err
			}
		}
	}
	return d.s.ledger.Put(ctx, ref, g.Person.ID, entries)
}

// RemoveGrant takes every card the ledger recorded for the person off the
// device, then forgets them.
func (d *Device) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	ref := d.s.ref(d.serial)
	old, err := d.s.ledger.Get(ctx, ref, p.ID)
	if err != nil {
		return err
	}
	for _, e := range old {
		if err := d.do(ctx, "remove card", "DEL", e.Key); err != nil {
			return err
		}
	}
	return d.s.ledger.Delete(ctx, ref, p.ID)
}
