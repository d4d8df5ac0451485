// Package wsterm drives WebSocket JSON face terminals (门禁机, the protocol
// of PROTOCOL.md Part A) from the platform side.
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
//	srv := wsterm.NewServer(wsterm.WithSink(sink))
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
// The protocol has no authentication (PROTOCOL.md D.16), so the
// server defends what it can by default:
//   - A connection that registers (205) the serial of a terminal whose
//     session is alive (heard from within WithTakeoverAfter, about one
//     heartbeat interval) is refused and an accessctl.KindAlarm event of type
//     AlarmSessionConflict names its address: a socket cannot take over a
//     door, receive its users' passwords and faces, or swallow revocations.
//     A session silent that long may be replaced (a terminal reconnecting).
//   - Nothing a connection reports is delivered before it registered; what
//     it reported is dropped (and counted) if it never does or is refused.
//   - Before registering, a connection may send 64 KiB messages only
//     (WithPreRegisterReadLimit), must register within 30 s, and at most
//     WithMaxUnregistered such connections exist; terminals that left are
//     forgotten after a while (WithForget).
//   - WithAllowList admits only listed serials, with their MAC if listed
//     (ParseAllowList reads a "SN[,MAC]" file).
//   - A pass whose snapshot is corrupt or too big is delivered without it
//     (PassEvent.SnapshotDropped).
//
// Serve it over TLS (http.Server.ServeTLS) for wss:// where terminals
// support it: a serial number on the wire is all the identity they have.
//
// The source's quirks are handled as PROTOCOL.md Part C recommends:
// scalars arrive as strings or numbers ([FlexString]), payloads under
// content or data, broken JSON with comments is repaired and counted,
// replies without commandId are attributed only when exactly one command is
// in flight, and pwd and img never appear in logs or String output.
package wsterm
