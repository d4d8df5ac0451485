// Package wsterm drives WebSocket JSON face terminals (门禁机, the protocol
// of door-terminals.md Part A) from the platform side.
//
// Terminals dial in; a [Server] is the http.Handler they connect to. It acks
// their register (205), heartbeat (206) and event (207) reports, delivers
// events to an accessctl.EventSink (pass records as KindPass, on-device
// enrolment as KindEnrolled, plus online, offline and heartbeat) and sends
// commands (addUser, editUser, deleteUser, selectUser, compareUser,
// queryEvent) with one command in flight per terminal, correlated by
// commandId and bounded by per-command timeouts.
//
// The Server is an accessctl.Driver: Open with the terminal's serial number
// gives a [Device], which implements accessctl.Device, PermissionSync,
// GrantGetter, FaceComparer and EventQuerier. OpenDoor returns
// accessctl.ErrUnsupported: the protocol cannot open a door remotely.
//
// The shortest use:
//
//	srv := wsterm.NewServer(sink)
//	defer srv.Close()
//	go http.ListenAndServe(":8080", srv) // terminals dial ws://host:8080/
//	dev, _ := srv.Device("486468465489")
//	err := dev.PutGrant(ctx, grant) // addUser, or editUser if it exists
//
// A Server lists its terminals (accessctl.DeviceLister) and a Device passes
// the admin API's user object through as the terminal's own command
// ([Device.UserCommand], whose reply is answered verbatim), so
// accessctl/adminapi serves terminals without this package importing it
// (examples/wsgateway). Package wstermtest simulates a terminal for tests
// and for development without hardware.
//
// The source's quirks are handled as door-terminals.md Part C recommends:
// scalars arrive as strings or numbers ([FlexString]), payloads under
// content or data, broken JSON with comments is repaired and counted,
// replies without commandId are attributed only when exactly one command is
// in flight, and pwd and img never appear in logs or String output.
package wsterm
