// Package accessctl is Menjin's core contract: the small interfaces every
// door-like device implements, the types they exchange and the middleware
// that composes them.
//
// A driver (one sub-package per protocol, such as accessctl/wsterm) turns a
// vendor protocol into a [Device]. Anything beyond the minimum is an optional
// capability found by type assertion, as in database/sql/driver:
//
//	if ps, ok := dev.(accessctl.PermissionSync); ok {
//		err := ps.PutGrant(ctx, grant)
//	}
//
// Devices report what happens — passes, online/offline, heartbeats, alarms —
// as [Event] values to an [EventSink], composed like net/http handlers:
//
//	sink := accessctl.FanOut(
//		accessctl.Filter(uploader, accessctl.KindIs(accessctl.KindPass)),
//		logger,
//	)
//
// Errors carry contracts: [ErrOffline] (retry later), [ErrTimeout] (the
// outcome is unknown), [ErrUnsupported] (the capability is absent) and
// [ErrRejected] (the device said no; a [*RejectedError] carries its code).
// They work through wrapping with errors.Is.
//
// # Writing a driver: the checklist
//
// Every contract a driver meets, in one place; accessctltest checks the
// ones a test can see, and a vendor engineer who has read one driver finds
// the same parts in the next.
//
//  1. Shape. The host side is built by New…(opts…) (with an error where
//     setup can fail, and input validated there rather than in a handle that
//     panics later); one option type per constructor; the sink by
//     WithSink, the logger by WithLogger (nil discards; passed down to what
//     the driver builds), callbacks by WithOn…. The host-side server
//     implements [Driver] and [DeviceLister] and has a typed getter for its
//     devices; it serves [Device] plus the capabilities its protocol has
//     (PermissionSync, KeepOpener, …), each found by type assertion.
//  2. Events. Acknowledge a device's event only after the sink returned nil;
//     a refused event stays unacknowledged so the device sends it again.
//     [Event.ID] is stable across redelivery (derive it from the device's own
//     id, or remember the id of a refused report for its resend). Count
//     deliveries in a [DeliveryStats] inside the driver's Stats.
//  3. Status. Online and offline come from accessctl/liveness: an online
//     event on every fresh session or registration (also one inside the
//     offline window: hosts resync on it), offline within a documented bound
//     of silence, status events acknowledged and retried like passes, ids
//     from liveness.EventID. [Device.Status] answers while offline, with
//     Online false.
//  4. Errors. Map carrier errors with [MapTransportError] (ErrOffline:
//     nothing was sent; ErrTimeout: outcome unknown; a device's refusal is a
//     [*RejectedError]); check ctx before sending; ErrClosed after Close;
//     ErrInvalid for a malformed request, such as a grant with credentials
//     but no person id; ErrUnsupported for a credential kind or capability
//     the protocol lacks.
//  5. Permissions. PutGrant is idempotent by person id and RemoveGrant of
//     the absent succeeds. A device that cannot list what it holds records
//     each push in a [Ledger] given by WithLedger (store.DB.Ledger on disk;
//     an in-memory default is lost on restart): record before pushing,
//     forget after the device confirmed a removal, so RemoveGrant after a
//     restart still reaches the device.
//  6. Security. Authenticate the peer by what the wire cannot forge (socket
//     address, TLS, a secret), never a body field; bound every buffer, table
//     and connection before the peer is authenticated; keep passwords,
//     faces, secrets and tokens out of logs and String.
//  7. Tests. A device-side simulator in a <driver>test package; every
//     conformance suite that applies run against it (accessctltest.TestDevice,
//     TestPermissionSync with Restart when the driver keeps a ledger,
//     TestEvents); a fuzz target per wire parser; goroutine-leak checks on
//     Close; a PROTOCOL.md in the package with the wire protocol.
package accessctl
