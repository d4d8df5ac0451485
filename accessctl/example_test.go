package accessctl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
)

// Sinks compose like net/http handlers: here pass events go to one sink and
// every event to another.
func ExampleFanOut() {
	passes := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		fmt.Println("upload", e.ID)
		return nil
	})
	log := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		fmt.Println("log", e.Kind, e.ID)
		return nil
	})
	sink := accessctl.FanOut(accessctl.Filter(passes, accessctl.KindIs(accessctl.KindPass)), log)

	ctx := context.Background()
	_ = sink.Handle(ctx, accessctl.Event{ID: "hb-1", Kind: accessctl.KindHeartbeat})
	_ = sink.Handle(ctx, accessctl.Event{ID: "ev-7", Kind: accessctl.KindPass})
	// Output:
	// log heartbeat hb-1
	// upload ev-7
	// log pass ev-7
}

// A Buffer keeps a slow platform from stalling the devices: events queue in
// memory and are delivered in order from the buffer's own goroutine.
func ExampleNewBuffer() {
	platform := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		fmt.Println("delivered", e.ID)
		return nil
	})
	buf := accessctl.NewBuffer(platform, accessctl.WithCapacity(10_000), accessctl.WithOverflow(accessctl.Block))
	_ = buf.Handle(context.Background(), accessctl.Event{ID: "ev-1", Kind: accessctl.KindPass})
	_ = buf.Close(context.Background()) // drains before returning
	fmt.Println(buf.Stats().Delivered)
	// Output:
	// delivered ev-1
	// 1
}

// Optional capabilities are found by type assertion.
func ExampleDevice() {
	var dev accessctl.Device = nopDevice{id: "sn-1"}
	if ps, ok := dev.(accessctl.PermissionSync); ok {
		_ = ps.PutGrant(context.Background(), accessctl.Grant{})
	} else {
		fmt.Println(dev.ID(), "cannot hold grants")
	}
	// Output: sn-1 cannot hold grants
}

// A host registers a driver under the protocol name its platform uses and
// opens devices by that name; the root package's doc shows this snippet.
func ExampleRegister() {
	sink := accessctl.EventSinkFunc(func(context.Context, accessctl.Event) error { return nil })
	srv := wsterm.NewServer(wsterm.WithSink(sink))
	defer srv.Close()
	reg := &accessctl.Registry{} // accessctl.Register uses DefaultRegistry
	reg.Register("wsterm", srv)

	ctx := context.Background()
	dev, err := reg.Open(ctx, "wsterm", accessctl.DeviceConfig{ID: "486468465489"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, canSync := dev.(accessctl.PermissionSync)
	face := accessctl.Credential{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: []byte{0xFF, 0xD8, 0xFF, 0xD9}, MIME: "image/jpeg"}}
	err = dev.(accessctl.PermissionSync).PutGrant(ctx, accessctl.Grant{
		Person: accessctl.PersonRef{ID: "12384865"}, Credentials: []accessctl.Credential{face}})
	fmt.Println(dev.ID(), canSync, errors.Is(err, accessctl.ErrOffline)) // no terminal has connected
	_, err = reg.Open(ctx, "hikvision", accessctl.DeviceConfig{ID: "1"})
	fmt.Println(errors.Is(err, accessctl.ErrUnknownDriver))
	// Output:
	// 486468465489 true true
	// true
}
