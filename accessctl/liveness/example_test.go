package liveness_test

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
)

// A driver feeds the tracker every frame and every closed connection; the
// sink hears each online and offline once.
func ExampleTracker() {
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		fmt.Println(e.Kind, e.Device.ID)
		return nil
	})
	heartbeat := 30 * time.Second
	lv := liveness.New(sink, liveness.WithTimeout(3*heartbeat))
	ctx := context.Background()
	t1 := accessctl.DeviceRef{ID: "T1"}

	_ = lv.Seen(ctx, t1) // register frame: online
	_ = lv.Seen(ctx, t1) // heartbeat: nothing new
	_ = lv.Lost(ctx, t1) // connection closed: offline
	_ = lv.Close(ctx)
	// Output:
	// online T1
	// offline T1
}
