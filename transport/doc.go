// Package transport carries device protocols over WebSocket: a server side
// that terminals dial into, a client side (with reconnect) for simulators,
// and the plumbing both need.
//
// Each connection ([Conn]) has exactly one reader and one writer goroutine.
// Writes go through a bounded queue with a priority lane for acknowledgements,
// so a slow command never delays the ack of a heartbeat; when nothing is
// queued, Send writes on the caller's goroutine instead, which saves a
// hand-off without reordering. Liveness comes from a
// read deadline that every received frame (data, ping or pong) extends; pings
// are sent but never relied on, because many terminals do not answer them.
//
// Protocol-neutral helpers live here too: [Pending] correlates requests and
// replies by string id with a per-request timeout, [Registry] keeps the live
// session of each device id and hands back the stale one when a device
// reconnects, and [Backoff] computes jittered exponential reconnect delays.
//
// The shortest server:
//
//	srv := transport.NewServer(func(c *transport.Conn, r *http.Request) transport.Handler {
//		return transport.HandlerFunc(func(c *transport.Conn, msg []byte) {
//			_ = c.Send(msg) // echo
//		})
//	})
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:8080", srv)
//
// Transport imports nothing else of Menjin: drivers map its errors onto the
// accessctl sentinels.
package transport
