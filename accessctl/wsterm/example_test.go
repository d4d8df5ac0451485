package wsterm_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// A platform serving terminals, registered as a driver, pushing a user with
// a face to one terminal by its serial number.
func ExampleServer() {
	sink := accessctl.Filter(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		fmt.Println("event:", e.Kind, e.Device.ID)
		return nil
	}), accessctl.KindIs(accessctl.KindOnline))
	srv := wsterm.NewServer(wsterm.WithSink(sink))
	defer srv.Close()
	reg := &accessctl.Registry{}
	reg.Register(wsterm.DriverName, srv)
	ts := httptest.NewServer(srv) // or http.ListenAndServe(addr, srv)
	defer ts.Close()

	// A simulated terminal stands in for hardware here.
	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", wstermtest.WithSN("486468465489"))
	defer term.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = term.WaitRegistered(ctx)

	dev, _ := reg.Open(ctx, wsterm.DriverName, accessctl.DeviceConfig{ID: "486468465489"})
	for st, _ := dev.Status(ctx); !st.Online; st, _ = dev.Status(ctx) {
		time.Sleep(time.Millisecond)
	}
	grant := accessctl.Grant{Person: accessctl.PersonRef{ID: "12384865"}, Name: "李四",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: []byte{0xFF, 0xD8, 0xFF, 0xE0}}}}}
	fmt.Println("put:", dev.(accessctl.PermissionSync).PutGrant(ctx, grant))
	fmt.Println("open:", dev.OpenDoor(ctx, accessctl.OpenRequest{}) != nil)
	// Output:
	// event: online 486468465489
	// put: <nil>
	// open: true
}

// Admitting only the site's terminals: an allow-list file of "SN[,MAC]"
// lines. A terminal not listed, or with another MAC, is refused at its 205.
func ExampleWithAllowList() {
	list, err := wsterm.ParseAllowList(strings.NewReader(`# lobby doors
486468465489,31231E2EW12W12
486468465490
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := wsterm.NewServer(wsterm.WithAllowList(list...))
	defer srv.Close()
	fmt.Println(len(list), "terminals allowed; first:", list[0].SN, list[0].MAC)
	// Output:
	// 2 terminals allowed; first: 486468465489 31231E2EW12W12
}
