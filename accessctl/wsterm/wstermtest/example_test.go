package wstermtest_test

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

// A host developer without hardware: a platform, one simulated terminal,
// a user pushed to it and a pass reported back.
func ExampleTerminal() {
	passes := make(chan accessctl.Event, 1)
	sink := accessctl.Filter(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		passes <- e
		return nil
	}), accessctl.KindIs(accessctl.KindPass))
	srv := wsterm.NewServer(wsterm.WithSink(sink))
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", wstermtest.WithSN("486468465489"))
	defer term.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := term.WaitRegistered(ctx); err != nil {
		panic(err)
	}

	dev, _ := srv.Device("486468465489")
	for st, _ := dev.Status(ctx); !st.Online; st, _ = dev.Status(ctx) {
		time.Sleep(time.Millisecond)
	}
	face := []byte{0xFF, 0xD8, 0xFF, 0xE0} // a JPEG, as far as the check goes
	err := dev.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "77986"}, Name: "张三",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: face}}}})
	fmt.Println("put:", err)
	u, _ := term.User("77986")
	fmt.Println("terminal holds:", u.Name)

	if _, err := term.Pass(ctx, "77986", "0"); err != nil {
		panic(err)
	}
	e := <-passes
	fmt.Println(e.Kind, e.Device.ID, e.Pass.Person.ID, e.Pass.Direction)
	// Output:
	// put: <nil>
	// terminal holds: 张三
	// pass 486468465489 77986 in
}
