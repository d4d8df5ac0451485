package linkkit_test

import (
	"context"
	"fmt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/transport/thingmodel"
)

// A hub with its embedded broker and file server, a door (the device-side
// client, in plain-QR mode), a QR grant, a scan and a remote open.
func Example() {
	ctx := context.Background()
	t := thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "s3cret"}
	files, err := linkkit.ServeFiles("127.0.0.1:0", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer files.Close()
	passes := make(chan accessctl.Event, 4)
	hub, err := linkkit.NewHub(ctx,
		linkkit.WithHostOptions(thingmodel.WithSecrets(thingmodel.Secrets{t.Key(): t.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0"))),
		linkkit.WithFileServer(files),
		linkkit.WithSink(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
			if e.Kind == accessctl.KindPass {
				passes <- e
			}
			return nil
		})))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()

	sim, err := linkkit.DialDoor(ctx, hub.Host().Broker().URL(), t, linkkit.WithCheckerOptions(passcheck.WithPlainQR()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	_ = hub.Host().WaitOnline(ctx, t.Key())

	door := hub.Door(t.Key())
	err = door.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "alice"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "ALIF24DD9END8CD3"}}})
	fmt.Println("grant:", err)
	_, _ = sim.Scan(ctx, "ALIF24DD9END8CD3")
	e := <-passes
	fmt.Println("pass:", e.Pass.Person.ID, e.Pass.Result.Granted, e.Pass.Result.Message)
	fmt.Println("open:", door.OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"}), sim.Opens())
	// Output:
	// grant: <nil>
	// pass: alice true success
	// open: <nil> 1
}
