package main

import (
	"context"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt/parkingmqtttest"
	"github.com/menjin/menjin/parking/parkingsim"
)

// parkingLane drives two cars to a simulated entrance camera on the embedded
// MQTT broker: a monthly pass holder is let in with a greeting on the LED
// screen, an unknown car is kept out (no temporary parking here); both become pass events.
func parkingLane(ctx context.Context, d *demo) (func(), error) {
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryOrdinary, Expiry: time.Now().AddDate(0, 0, 3)})
	lane, err := parkingmqtttest.StartSimLane(ctx, "DEMO-LANE-1", parking.ListDecider(list, false), d.sink,
		[]parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4})},
		parking.WithDirection(accessctl.DirectionIn))
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = lane.Close() }
	for _, plate := range []string{"京A12345", "沪B99999"} {
		rep, err := lane.Drive(ctx, parkingsim.Car{Plate: plate})
		if err != nil {
			return cleanup, err
		}
		d.say("car %s: allowed=%t screen=%q voice=%q gate=%s", plate, rep.Allowed, rep.Screen, rep.Voice, rep.Gate)
		if rep.Allowed {
			lane.Pass(ctx) // the car drives through; the barrier closes behind it
		}
	}
	return cleanup, nil
}
