package intercom_test

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/intercom"
)

// A door station and a resident on loopback: the resident calls, sends one
// unlock per §6.3, and the door's Opener runs once.
func Example() {
	opened := make(chan intercom.UnlockRequest, 1)
	door, err := intercom.NewDoorStation("127.0.0.1:0", intercom.WithUser("door1"),
		intercom.WithOpener(intercom.OpenerFunc(func(ctx context.Context, r intercom.UnlockRequest) error {
			opened <- r // drive the relay here
			return nil
		})))
	if err != nil {
		panic(err)
	}
	defer door.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := intercom.UnlockOnce(ctx, "127.0.0.1:0", door.URI(), intercom.WithUser("room1202"))
	if err != nil {
		panic(err)
	}
	r := <-opened
	fmt.Println(res.OK(), res.Status, r.Channel, r.Peer)
	// Output: true 200 info-json room1202
}

// A resident registered at a site registrar calls the door station by its
// account name; the proxy routes the call and the in-dialog INFOs.
func ExampleRegistrar() {
	reg, err := intercom.NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1", "room1202": "pw2"})
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	door, _ := intercom.NewDoorStation("127.0.0.1:0", intercom.WithUser("door1"),
		intercom.WithOpener(intercom.OpenerFunc(func(context.Context, intercom.UnlockRequest) error { return nil })))
	defer door.Close()
	dr, _ := door.Register(intercom.RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	if err := dr.WaitRegistered(ctx); err != nil {
		panic(err)
	}

	res, _ := intercom.NewResident("127.0.0.1:0", intercom.WithUser("room1202"))
	defer res.Close()
	rr, _ := res.Register(intercom.RegisterConfig{Registrar: reg.URI(), Password: "pw2"})
	if err := rr.WaitRegistered(ctx); err != nil {
		panic(err)
	}
	call, err := res.CallDoor(ctx, "door1") // a bare user: resolved at our registrar
	if err != nil {
		panic(err)
	}
	out, err := call.Unlock(ctx)
	fmt.Println(out.OK(), err)
	_ = call.Hangup(ctx)
	// Output: true <nil>
}

// Parsing the spec's S4 body, which omits "sip".
func ExampleParseUnlockCommand() {
	c, err := intercom.ParseUnlockCommand([]byte("{\n\n\"req\":\"unlock\",\n\n\"reqsn\":100\n\n}"))
	fmt.Printf("%+v %v\n", c, err)
	// Output: {Req:unlock ReqSN:100 SIP:} <nil>
}

// A door station that also takes calls and unlocks from the site's LAN
// (without WithAllow only 127.0.0.1 and ::1 may), one unlock per call.
func ExampleWithAllow() {
	allow, err := intercom.ParseAllowList("192.168.10.0/24, 127.0.0.1")
	if err != nil {
		panic(err)
	}
	door, err := intercom.NewDoorStation("127.0.0.1:0", intercom.WithUser("door1"),
		intercom.WithAllow(allow...), intercom.WithMaxUnlocksPerCall(1))
	if err != nil {
		panic(err)
	}
	defer door.Close()
	fmt.Println(allow)
	// Output: [192.168.10.0/24 127.0.0.1/32]
}
