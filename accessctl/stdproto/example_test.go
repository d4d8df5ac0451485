package stdproto_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// An edge serving one simulated terminal: open its door, give a person a
// card, receive the card swipe.
func ExampleNewEdge() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	passes := make(chan accessctl.Event, 8)
	edge := stdproto.NewEdge(
		stdproto.WithSink(accessctl.Filter(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
			passes <- e
			return nil
		}), accessctl.KindIs(accessctl.KindPass))),
		stdproto.WithFeatureExtractor(stdprototest.Features), // a stand-in, not a face model
	)
	defer edge.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // the edge's port is 10000 in the field
	srv := stdproto.NewServer("", edge)
	go srv.Serve(ln)
	defer srv.Close()

	sim, _ := stdprototest.Start(stdprototest.Config{SN: "T-0001", Edge: ln.Addr().String(), Keepalive: time.Second})
	defer sim.Close()
	_ = edge.Provision(stdproto.TerminalConfig{SN: "T-0001", Addr: sim.Addr()})
	_ = sim.WaitConnected(ctx)

	dev, _ := edge.Open(ctx, accessctl.DeviceConfig{ID: "T-0001"}) // online once the terminal is connected
	if err := dev.OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"}); err != nil {
		fmt.Println(err)
	}
	err := dev.(accessctl.PermissionSync).PutGrant(ctx, accessctl.Grant{
		Person: accessctl.PersonRef{ID: "u-1"}, Name: "Li Si",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "F47B0BA2"}},
	})
	fmt.Println("grant:", err)
	_ = sim.PassCard(ctx, "F47B0BA2")
	e := <-passes
	fmt.Println("door opens:", sim.DoorOpens())
	fmt.Println(e.Pass.Method, e.Pass.Person.ID, e.Pass.PersonName)
	// Output:
	// grant: <nil>
	// door opens: 1
	// card u-1 Li Si
}

// Computing a /connect sign as a terminal must send it.
func ExampleSign() {
	s, _ := stdproto.Sign(stdproto.SignMD5, 1589472000, "00-16-EA-AE-3D-40", "123456789", "192.168.1.128")
	fmt.Println(s)
	// Output: 4db51117ad87cef349f45a3b14c05142
}
