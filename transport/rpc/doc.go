// Package rpc correlates requests with replies by id, whatever carries
// them (a WebSocket, a TCP line protocol, MQTT). It imports nothing but the
// standard library, so a driver over plain TCP need not pull in a WebSocket
// library to use it.
//
//	var p rpc.Pending[Reply]
//	call, _ := p.Add(id)
//	send(id, request)            // on failure: call.Cancel()
//	reply, err := call.Wait(ctx, 5*time.Second)
//	// the reader goroutine, for each reply: p.Resolve(reply.ID, reply)
package rpc
