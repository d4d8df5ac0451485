package thingmodel_test

import (
	"context"
	"fmt"

	"github.com/menjin/menjin/transport/thingmodel"
)

// A host with its embedded broker, a simulated door, one remote open and
// one pass event.
func Example() {
	ctx := context.Background()
	door := thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "s3cret"}
	events := make(chan *thingmodel.Message, 1)
	h, err := thingmodel.NewHost(ctx,
		thingmodel.WithSecrets(thingmodel.Secrets{door.Key(): door.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0")),
		thingmodel.WithHandler(thingmodel.HandlerFunc(func(_ context.Context, m *thingmodel.Message) error {
			events <- m
			return nil
		})))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()

	d, err := thingmodel.Dial(ctx, h.Broker().URL(), door,
		thingmodel.WithService("remoteOpen", func(context.Context, *thingmodel.Request) (any, error) {
			fmt.Println("door: unlocking")
			return nil, nil
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	if err := h.WaitOnline(ctx, door.Key()); err != nil {
		fmt.Println(err)
		return
	}

	if _, err := h.Invoke(ctx, door.Key(), "remoteOpen", nil); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := d.PostEvent(ctx, "passEvent", map[string]any{"code": 0, "type": "qrCode", "content": "ALIF24DD9END8CD3"}); err != nil {
		fmt.Println(err)
		return
	}
	m := <-events
	fmt.Println("host:", m.Identifier, string(m.Value))
	// Output:
	// door: unlocking
	// host: passEvent {"code":0,"content":"ALIF24DD9END8CD3","type":"qrCode"}
}
