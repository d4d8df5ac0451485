// Package wstermtest simulates a WebSocket face terminal (the device side of
// accessctl/wsterm/PROTOCOL.md Part A) so that hosts can be developed and tested
// without hardware.
//
// A [Terminal] dials a platform, registers, heartbeats, keeps a user table
// that addUser/editUser/deleteUser/selectUser/compareUser act on (addUser of
// an existing id updates it, as platforms written from the source's editUser
// example expect), answers queryEvent from the events it generated, reports
// passes and on-device enrolments, resends unacknowledged events after a
// reconnect, and can be told to misbehave per command (never answer, answer
// late, answer "500", drop the commandId).
//
//	term := wstermtest.NewTerminal("ws://127.0.0.1:8080/", wstermtest.WithSN("486468465489"))
//	defer term.Close()
//	_ = term.WaitRegistered(ctx)
//	eventID, err := term.Pass(ctx, "77986", "0") // returns once the platform acked
package wstermtest
