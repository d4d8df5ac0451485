// Package menjin is the root of Menjin (门禁, "access control"), a
// vendor-neutral Go SDK that drives door terminals, video intercoms, QR
// readers and parking barriers from many vendors through one set of small
// interfaces.
//
// The root package holds no code; the SDK lives in its sub-packages:
//
//   - accessctl: the core contract every door-like device implements —
//     Device, PermissionSync, EventSink — with the shared types (person,
//     credential, grant, pass event, device status), sentinel errors, a driver
//     registry and sink middleware. One sub-package per door protocol
//     (accessctl/wsterm, ...) and per platform bridge.
//   - accessctl/accessctltest: the conformance suite every driver runs, and a
//     fake device for host tests.
//   - intercom: SIP video intercom — registration, calls, door unlock by SIP
//     INFO and DTMF.
//   - qrcode: RSA QR codes — issue and verify, permissions and scan limits.
//   - parking: barrier cameras — plate events, gate control, LED content.
//   - transport: WebSocket and HTTP plumbing shared by drivers.
//   - examples: runnable programs, starting with examples/demo.
//
// A host program registers the drivers it serves under the protocol names
// its platform uses (a host-side server such as wsterm.Server is an
// accessctl.Driver; nothing registers itself), opens devices by name,
// pushes grants and receives events through the sink it gave the driver:
//
//	srv := wsterm.NewServer(wsterm.WithSink(sink))
//	accessctl.Register("wsterm", srv)
//	dev, err := accessctl.Open(ctx, "wsterm", accessctl.DeviceConfig{ID: "486468465489"})
//	if ps, ok := dev.(accessctl.PermissionSync); ok {
//		err = ps.PutGrant(ctx, grant)
//	}
//
// accessctl's ExampleRegister runs exactly this.
package menjin
