package main

import (
	"context"
	"time"

	"github.com/menjin/menjin/accessctl/accessctltest"
)

const outagePasses = 5

// outage takes the platform down while a door reports passes: the outbox
// has each one on disk before the door is acknowledged, retries while the
// platform refuses, and delivers all of them once it is back.
func outage(ctx context.Context, d *demo) (func(), error) {
	d.platformDown.Store(true)
	d.say("platform down")
	door := accessctltest.NewFakeDevice("DEMO-OUTAGE-DOOR", d.sink)
	for range outagePasses {
		if err := door.Pass(ctx, "12384865"); err != nil {
			d.platformDown.Store(false)
			return nil, err
		}
	}
	select {
	case <-time.After(400 * time.Millisecond):
	case <-ctx.Done():
	}
	st := d.sink.Stats()
	d.say("outbox while down: %d queued on disk, %d deliveries retried, 0 lost", st.Queued, st.Retried)
	d.platformDown.Store(false)
	d.say("platform back")
	return nil, nil
}
