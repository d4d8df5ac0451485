package main

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/reconcile"
)

// reconciledDriver opens devices with next and sends their grants through
// the reconciler: HC's addUser and deleteUser state what a terminal should
// hold, and the reconciler delivers it — at once when the terminal is
// online, when it comes back when it is not — instead of failing and
// leaving HC's operator a "resend" button.
type reconciledDriver struct {
	next accessctl.Driver
	rc   *reconcile.Reconciler
}

func (r reconciledDriver) Open(ctx context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	dev, err := r.next.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ps, ok := dev.(accessctl.PermissionSync)
	if !ok {
		return dev, nil
	}
	ref := accessctl.DeviceRef{Platform: hciot.Platform, ID: cfg.ID}
	if err := r.rc.Attach(ref, ps); err != nil {
		_ = dev.Close()
		return nil, err
	}
	return &reconciledDevice{Device: dev, ps: ps, ref: ref, rc: r.rc}, nil
}

// reconciledDevice is a device whose PermissionSync goes through the
// reconciler. PutGrant and RemoveGrant return once the terminal applied the
// change, or at once (nil) when the terminal is offline: the change is
// stored and will be delivered.
type reconciledDevice struct {
	accessctl.Device
	ps  accessctl.PermissionSync // the device's own
	ref accessctl.DeviceRef
	rc  *reconcile.Reconciler
}

func (d *reconciledDevice) PutGrant(ctx context.Context, g accessctl.Grant) error {
	g.Devices = []accessctl.DeviceRef{d.ref}
	if err := d.rc.Put(ctx, g); err != nil {
		return err
	}
	return d.outcome(ctx, g.Person)
}

func (d *reconciledDevice) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	if st, ok := d.rc.Status(d.ref, p); !ok || st.Op != accessctl.OpUpsert {
		// Not a person the reconciler put there (enrolled on the terminal,
		// or put before -data existed): it would leave it alone, so remove
		// it directly, as HC asks.
		return d.ps.RemoveGrant(ctx, p)
	}
	if err := d.rc.Remove(ctx, p, d.ref); err != nil {
		return err
	}
	return d.outcome(ctx, p)
}

// outcome waits for the reconciler's verdict on p while the terminal is
// online. A terminal offline, or slower than ctx, leaves the change pending
// with the reconciler, which is success for HC: it will be delivered.
func (d *reconciledDevice) outcome(ctx context.Context, p accessctl.PersonRef) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, ok := d.rc.Status(d.ref, p)
		if ok {
			switch st.State {
			case accessctl.SyncApplied, accessctl.SyncRemoved:
				return nil
			case accessctl.SyncInvalidInput, accessctl.SyncNeedsManual, accessctl.SyncUnknown:
				return &accessctl.RejectedError{Code: st.Code, Message: fmt.Sprintf("%s: %s", st.State, st.Message)}
			}
		}
		if s, err := d.Status(ctx); err == nil && !s.Online {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}
