// Command vendordriver is a vendor engineer's proof: a complete driver for
// a made-up TCP door controller, written on Menjin's public API only (no
// internal/ package), passing the conformance suites. Copy linectl and
// linectltest out of the module and rename them to start your own driver.
//
//	go run ./examples/vendordriver               # 3 devices, exits 0
//	go run ./examples/vendordriver -devices 10
//
// The demo starts a linectl.Server and simulated devices on loopback,
// pushes a card to each, swipes it there and prints every event (online,
// pass, offline) as one JSON line.
//
// # The protocol
//
// One line per message, "\n"-terminated, at most 512 bytes; fields are
// separated by one space and query-escaped (a name "A B" is "A+B"). The
// device dials the server.
//
//	device → server                      server → device
//	HELLO <serial> <secret>  (first)     OK 0           (else the socket closes)
//	PING                     (every 1 s)
//	EVT <evid> <unix-ms> <card> <person> ACK <evid>     (only once the sink took it)
//	OK <id> | ERR <id> <code> <message>  OPEN <id> <door>
//	                                     PUT <id> <card> <person> <name>
//	                                     DEL <id> <card>
//
// The device resends every EVT until it is acknowledged, with the same
// evid (unique across its reboots). It cannot list the cards it holds.
//
// # Writing a driver, step by step
//
// The rules every driver follows are in the package doc of accessctl,
// "Writing a driver: the checklist". This is how linectl meets each one.
//
//  1. The wire codec (linectl/line.go): ParseLine turns one bounded line
//     into a Line or an error wrapping accessctl.ErrInvalid, never a panic;
//     FuzzParseLine holds it to that, seeded with every verb above.
//
//  2. Options (linectl/options.go): one Option type for NewServer, the sink
//     by WithSink, the ledger by WithLedger, WithLogger(nil) discards.
//
//  3. The host side (linectl/server.go): Server listens; NewServer(opts...)
//     returns (*Server, error). It implements accessctl.Driver (Open by
//     serial) and accessctl.DeviceLister (Devices), with the typed getter
//     Device. Before a device registered, everything is bounded: at most 32
//     unregistered sockets, 5 s to send HELLO, 512 bytes a line. The device
//     authenticates by its per-device secret (constant-time compare), never
//     by a field the wire can forge; a newer registration replaces the older
//     connection.
//
//  4. Request and response (server.go, call): each command gets an id; a
//     transport/rpc Pending correlates the OK or ERR with it. rpc imports
//     only the standard library. Every error goes through
//     accessctl.MapTransportError, so callers see ErrOffline (no
//     connection), ErrTimeout (no reply), *RejectedError (ERR) or
//     context.Canceled.
//
//  5. Liveness (server.go): accessctl/liveness turns HELLO into Connected,
//     every line into Seen and a closed socket into Lost; it emits the
//     online and offline events with stable ids and answers Status.
//
//  6. Events (server.go, event): a pass goes to the sink with the device's
//     own id in Event.ID, and is acknowledged only after the sink accepted
//     it; a refused one is not acknowledged, the device resends it, the same
//     ID reaches the sink again. Nothing a device reported is dropped.
//
//  7. Permissions (linectl/device.go): Device implements accessctl.Device
//     and accessctl.PermissionSync. The device cannot list its cards, so
//     PutGrant records them in the accessctl.Ledger before pushing them, and
//     narrows the record after the device confirmed; RemoveGrant removes
//     what the ledger recorded. With a durable ledger (accessctl/store) a
//     removal after a restart of the host still reaches the device.
//
//  8. The simulator (linectl/linectltest): the device side, used by the
//     tests and the demo; it dials in, pings, obeys and resends.
//
//  9. Conformance (linectl/conformance_test.go): the fixture runs the
//     server on a store ledger against the simulator and passes
//     accessctltest.TestDevice, TestPermissionSync (with KeepsState and
//     Restart on the same store) and TestEvents (with Sink and Acks).
//
// The host side and the simulator together stay within 500 lines of code
// (blank lines, comments and imports not counted), which TestDriverWithinBudget
// enforces: that is what a driver costs.
package main
