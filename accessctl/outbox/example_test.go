package outbox_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
)

// An outbox in front of an uploader: Handle returns once the event is on
// disk, so a driver acknowledges the device only for events that survive a
// crash; the uploader gets them in order, retried until it takes them.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)

	uploaded := make(chan string, 1)
	uploader := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		uploaded <- e.ID // a real one POSTs e, with e.ID as the idempotency key
		return nil
	})
	ob, err := outbox.Open(dir, uploader, outbox.WithMaxEvents(100_000))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	err = ob.Handle(ctx, accessctl.Event{ID: "T1-42", Kind: accessctl.KindPass, Device: accessctl.DeviceRef{ID: "T1"}})
	fmt.Println("stored:", err == nil)
	fmt.Println("uploaded:", <-uploaded)

	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = ob.Close(cctx) // whatever is not delivered stays on disk for the next Open
	// Output:
	// stored: true
	// uploaded: T1-42
}
