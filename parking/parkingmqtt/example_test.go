package parkingmqtt_test

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt/parkingmqtttest"
	"github.com/menjin/menjin/parking/parkingsim"
)

// A lane over MQTT on one machine: the simulated camera posts its
// recognition to the embedded broker, the lane answers over it.
func ExampleStartSimLane() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryOrdinary})
	lane, err := parkingmqtttest.StartSimLane(ctx, "exit-1", parking.ListDecider(list, false), nil, nil)
	if err != nil {
		panic(err)
	}
	defer lane.Close()
	rep, err := lane.Drive(ctx, parkingsim.Car{Plate: "京A12345"})
	fmt.Println(rep.Plate, rep.Allowed, rep.Screen[:2], rep.Gate, err)
	// Output: 京A12345 true [京A12345 欢迎光临] opened <nil>
}
