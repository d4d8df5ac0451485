package wsterm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// benchSizes are face images before Base64: a thumbnail and a typical
// terminal enrolment photo.
var benchSizes = []int{1 << 10, 32 << 10}

func benchUser(size int) wsterm.User {
	img := make([]byte, size)
	copy(img, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	for i := 4; i < size; i++ {
		img[i] = byte(i * 7)
	}
	return wsterm.User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0",
		Img: base64.StdEncoding.EncodeToString(img)}
}

// BenchmarkAddUserRoundTrip is one addUser through the driver and the
// simulator over a loopback WebSocket: encode, queue, write, the terminal's
// decode and reply, our decode and correlation. Compare with
// BenchmarkRawGorillaEcho at the same size.
func BenchmarkAddUserRoundTrip(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("img=%dKiB", size>>10), func(b *testing.B) {
			srv := wsterm.NewServer()
			ts := httptest.NewServer(srv)
			defer ts.Close()
			defer srv.Close()
			term := wstermtest.NewTerminal("ws"+strings.TrimPrefix(ts.URL, "http")+"/", wstermtest.WithSN("B1"))
			defer term.Close()
			ctx := context.Background()
			if err := term.WaitRegistered(ctx); err != nil {
				b.Fatal(err)
			}
			d, _ := srv.Device("B1")
			for st, _ := d.Status(ctx); !st.Online; st, _ = d.Status(ctx) {
			}
			u := benchUser(size)
			if err := d.AddUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			req, _ := json.Marshal(map[string]any{"commandId": "202401151443300000", "command": "addUser", "content": u})
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := d.AddUser(ctx, u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawGorillaEcho is the floor: the same exchange with bare gorilla
// on both ends — the server writes a frame of the addUser request's size,
// the client reads it and answers a frame of the reply's size — with no
// JSON, no queues and no correlation.
func BenchmarkRawGorillaEcho(b *testing.B) { benchRawEcho(b, false) }

// BenchmarkRawGorillaEchoViaReader is BenchmarkRawGorillaEcho with one
// change: the server reads on its own goroutine and hands each reply to the
// waiting caller over a channel, as any server must that also receives
// unsolicited reports on the connection. It measures what that hand-off
// alone costs (waking the caller wakes an idle thread), which is most of
// what separates the driver from the bare echo at small sizes.
func BenchmarkRawGorillaEchoViaReader(b *testing.B) { benchRawEcho(b, true) }

func benchRawEcho(b *testing.B, viaReader bool) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("img=%dKiB", size>>10), func(b *testing.B) {
			req, _ := json.Marshal(map[string]any{"commandId": "202401151443300000", "command": "addUser", "content": benchUser(size)})
			reply := []byte(`{"code":"200","data":"","commandId":"202401151443300000"}`)
			conns := make(chan *websocket.Conn, 1)
			up := websocket.Upgrader{}
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := up.Upgrade(w, r, nil)
				if err == nil {
					conns <- c
				}
			}))
			defer ts.Close()
			client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() { // the "terminal": read a command, answer it
				defer close(done)
				for {
					if _, _, err := client.ReadMessage(); err != nil {
						return
					}
					if err := client.WriteMessage(websocket.TextMessage, reply); err != nil {
						return
					}
				}
			}()
			server := <-conns
			replies := make(chan error, 1)
			readerDone := make(chan struct{})
			if viaReader {
				go func() {
					defer close(readerDone)
					for {
						_, _, err := server.ReadMessage()
						replies <- err
						if err != nil {
							return
						}
					}
				}()
			} else {
				close(readerDone)
			}
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := server.WriteMessage(websocket.TextMessage, req); err != nil {
					b.Fatal(err)
				}
				if viaReader {
					err = <-replies
				} else {
					_, _, err = server.ReadMessage()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			server.Close()
			client.Close()
			<-done
			<-readerDone
		})
	}
}
