// Package adminapi is the admin HTTP API a gateway serves over any
// driver's devices, written once over accessctl.Device and the optional
// capabilities found by type assertion; no driver imports it:
//
//	GET    /devices                      → [{"sn","ip","mac","type","online"}, ...]  (accessctl.DeviceLister)
//	POST   /devices/{sn}/users           user object → add       (accessctl.PermissionSync)
//	PUT    /devices/{sn}/users/{userId}  user object → edit      (PermissionSync, GrantGetter to keep absent fields)
//	DELETE /devices/{sn}/users/{userId}              → remove    (PermissionSync)
//	GET    /devices/{sn}/users[?userId=]             → query     (GrantGetter / GrantLister)
//	POST   /devices/{sn}/open[?reason=]              → open door (Device.OpenDoor)
//
// The source is a driver that lists its devices ([Source]: a server
// devices dial into, or [FleetOf] a fixed set). The user object is the
// WebSocket terminals' one (user, userId, pwd, name, role, img) plus cards
// and bleCards (card numbers as strings) and validFrom/validTo (RFC 3339);
// [User.Grant] and [UserOf] map it to and from accessctl.Grant. It is
// checked before a device is asked: one key given twice, text that is not
// UTF-8, ids longer than [MaxIDLen] and an img that is not a JPEG or PNG
// picture are 400. A device whose protocol takes that object as is and
// whose answers are worth passing on verbatim implements [UserCommander]
// (wsterm does, without importing this package); the user routes then use
// it instead of PermissionSync. A device without GrantGetter cannot be read
// back, so an edit there replaces the whole grant.
//
// Statuses, the same for every gateway: 200 with the device's answer (its
// refusals included), 400 for a bad body, 401 without the bearer token
// ([WithToken]), 404 for an unknown or offline device, 501 for a device
// without the capability or a credential kind its protocol cannot carry,
// 504 when it does not answer in time, 502 for anything else. Bodies other
// than 200 are {"error":"..."}.
//
// The shortest use (serve it with an http.Server that bounds header and
// body read times):
//
//	h, err := adminapi.New(adminapi.FleetOf("stdproto", dev1, dev2), adminapi.WithToken(token))
//	http.ListenAndServe("127.0.0.1:8080", h)
package adminapi
