// Package stdproto speaks the edge "standard protocol" between door or
// intercom terminals and an edge server (门禁一体机标准协议, spec
// PROTOCOL.md Part B): both sides are HTTP servers that POST JSON to
// each other, after an MD5/SHA-signed /connect that issues a token.
//
// The edge side is an [Edge]: an http.Handler for every terminal → edge
// interface (/connect, /keepalive, pass events, alarms, /recognize and
// /qrcode decisions, intercom and elevator reports), the list of
// provisioned terminals (sn → ip:port to call back; others are refused with
// code 7), token issue and expiry after 3 × keepalive of silence, and an
// accessctl.Driver. Its [Terminal] handles implement accessctl.Device
// (OpenDoor = /remoteOpen), KeepOpener, PermissionSync (faces via
// /faceAC/syncFaces, cards and Bluetooth cards via their syncPermissions,
// in batches of 50 and 200), GrantLister and GrantGetter. A [Client] gives
// every edge → terminal interface, elevator and intercom included.
//
// Terminals cannot list their cards (C.B.22): the edge records what it
// pushed in an accessctl.Ledger (WithLedger), so that RemoveGrant after a
// restart still deletes them. The default ledger is in memory.
//
//	edge := stdproto.NewEdge(
//		stdproto.WithSink(sink),                       // pass, alarm, online, offline
//		stdproto.WithQRDecider(qrDecider),             // answers /qrcode
//		stdproto.WithFeatureExtractor(faceModel),      // faces are synced as features
//		stdproto.WithLedger(db.Ledger()),              // db from store.Open: pushed cards survive a restart
//	)
//	_ = edge.Provision(stdproto.TerminalConfig{SN: "T-0001", Addr: "192.168.1.128:8080"})
//	go stdproto.NewServer(":10000", edge).ListenAndServe()
//	dev, err := edge.Terminal("T-0001") // ErrNotFound if not provisioned
//	if err == nil {
//		err = dev.OpenDoor(ctx, accessctl.OpenRequest{})
//	}
//
// The device side is an [Agent] over a [Backend] (plus optional capability
// interfaces such as [FaceBackend]) served by a [TerminalHandler]: what a
// vendor needs to make a terminal speak the protocol. Package stdprototest
// builds a simulated terminal on it.
//
// On the wire the package is liberal in what it accepts and strict,
// example-shaped, in what it sends (spec Part C.B): the sign is verified
// over both readings of the source, numbers may arrive as strings, comments
// and trailing commas are repaired. Every failure is typed: a non-zero code
// is a *CodeError (errors.Is accessctl.ErrRejected; code 4 is
// ErrTokenInvalid and makes the caller /connect again and retry once);
// timeouts are accessctl.ErrTimeout, an unreachable or disconnected
// terminal accessctl.ErrOffline, HTTP 404 or code 99 "unsupported"
// accessctl.ErrUnsupported.
//
// # What is authenticated, and how
//
// The /connect sign is a checksum with no secret (C.B.3): anyone can
// compute it for any sn and ip, and the sn and ip in a body are only what
// the sender claims. The one thing the wire cannot forge is the socket
// address a request comes from, so it is the authenticator on both sides:
//
//   - Edge: a request from an address no terminal is provisioned at is
//     answered code 7 before its body is read; a /connect for a
//     provisioned sn must come from that terminal's address
//     (TerminalConfig.IP, or PeerIP behind NAT) and state its ip. Refusals
//     are counted in EdgeStats.Foreign and logged (never with a token).
//   - Terminal (TerminalHandler): edge calls — /connect and every command,
//     /remoteOpen and the face, card and Bluetooth-card syncs above all —
//     are accepted only from the edge's address (WithEdgeIP, or
//     WithAllowedEdges for prefixes), code 7 otherwise, body unread.
//     Without either option only loopback (127.0.0.0/8, ::1) may call; an
//     Agent allows its configured edge's address only.
//   - Tokens: a token is valid only from the address that obtained it;
//     used from elsewhere it is code 7 and does not count as liveness.
//
// So whoever can use a terminal's or the edge's IP address can act as it:
// run the protocol on a network where addresses cannot be spoofed (an
// isolated VLAN with source-address validation). The clock-skew window is
// off by default (D.12); WithClockSkew turns it on.
//
// A device-side face pass (/faceAC/passEvent) whose photo is missing, not
// a JPEG or PNG, or over the limit is delivered with
// PassEvent.SnapshotDropped set and answered success: the door did open.
package stdproto
