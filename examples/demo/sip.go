package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/intercom"
)

// sipIntercom runs a SIP door station on loopback; a resident calls it and
// sends the unlock as an in-dialog INFO, the door opens once and reports a
// pass by intercom.
func sipIntercom(ctx context.Context, d *demo) (func(), error) {
	var opens atomic.Int32
	door, err := intercom.NewDoorStation("127.0.0.1:0",
		intercom.WithUser("door1"),
		intercom.WithOpener(intercom.OpenerFunc(func(context.Context, intercom.UnlockRequest) error {
			opens.Add(1)
			return nil
		})),
		intercom.WithSink(d.sink), intercom.WithDevice(accessctl.DeviceRef{ID: "DEMO-SIP-DOOR"}, 1))
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = door.Close() }
	d.say("door station at %s", door.URI())
	res, err := intercom.UnlockOnce(ctx, "127.0.0.1:0", door.URI(), intercom.WithUser("room1202"))
	if err != nil {
		return cleanup, err
	}
	if !res.OK() {
		return cleanup, fmt.Errorf("unlock refused: status %d", res.Status)
	}
	d.say("resident room1202: unlock reqsn=%d status=%d from %s in %v; the lock opened %d time(s)",
		res.ReqSN, res.Status, res.Source, res.Elapsed.Round(1e6), opens.Load())
	return cleanup, nil
}
