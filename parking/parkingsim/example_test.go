package parkingsim_test

import (
	"context"
	"fmt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

// A host developer's lane without hardware: a list decides, the simulated
// camera shows the answer and moves the barrier.
func ExampleNewLane() {
	ctx := context.Background()
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryWhitelist})
	lane, err := parkingsim.NewLane(ctx, "entrance-1", parking.ListDecider(list, false), nil,
		[]parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 2})},
		parking.WithDirection(accessctl.DirectionIn))
	if err != nil {
		panic(err)
	}
	defer lane.Close()
	for _, plate := range []string{"京A12345", "京Z99999"} {
		rep, _ := lane.Drive(ctx, parkingsim.Car{Plate: plate})
		fmt.Println(rep.Plate, rep.Allowed, rep.Screen, rep.Gate)
		lane.Pass(ctx)
	}
	// Output:
	// 京A12345 true [京A12345 欢迎光临] opened
	// 京Z99999 false [京Z99999 未登记车辆] closed
}
