package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/menjin/menjin/transport"
)

// A server that answers every message, and a client that dials it.
func ExampleNewServer() {
	srv := transport.NewServer(func(c *transport.Conn, r *http.Request) transport.Handler {
		return transport.HandlerFunc(func(c *transport.Conn, msg []byte) {
			_ = c.Send(append([]byte("echo: "), msg...))
		})
	})
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	got := make(chan string, 1)
	c, err := transport.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/",
		transport.HandlerFunc(func(_ *transport.Conn, msg []byte) { got <- string(msg) }))
	if err != nil {
		panic(err)
	}
	defer func() { _ = c.Close(); <-c.Done() }()
	_ = c.Send([]byte(`{"code":"206"}`))
	fmt.Println(<-got)
	// Output: echo: {"code":"206"}
}

// Pending correlates replies with requests by id, whatever carries them.
func ExamplePending() {
	var p transport.Pending[string]
	call, _ := p.Add("202401151443300001")
	go p.Resolve("202401151443300001", `{"code":"200"}`) // the reader goroutine's job
	reply, err := call.Wait(context.Background(), 0)
	fmt.Println(reply, err)
	// Output: {"code":"200"} <nil>
}
