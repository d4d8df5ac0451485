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
package accessctl
