// Package adminapi is the admin HTTP API every Menjin gateway serves
// (examples/wsgateway, examples/stdgateway), written once over
// accessctl.Device and the optional capabilities found by type assertion:
//
//	GET    /devices                      → [{"sn","ip","mac","type","online"}, ...]
//	POST   /devices/{sn}/users           user object → add       (accessctl.PermissionSync)
//	PUT    /devices/{sn}/users/{userId}  user object → edit      (PermissionSync, GrantGetter to keep absent fields)
//	DELETE /devices/{sn}/users/{userId}              → remove    (PermissionSync)
//	GET    /devices/{sn}/users[?userId=]             → query     (GrantGetter / GrantLister)
//	POST   /devices/{sn}/open[?reason=]              → open door (Device.OpenDoor)
//
// The user object is the WebSocket terminals' one (user, userId, pwd, name,
// role, img); [User.Grant] and [UserOf] map it to and from accessctl.Grant.
// A device whose protocol takes that object as is and whose answers are
// worth passing on verbatim implements [UserCommander]; the user routes then
// use it instead of PermissionSync. A device without GrantGetter cannot be
// read back, so an edit there replaces the whole grant.
//
// Statuses, the same for every gateway: 200 with the device's answer (its
// refusals included), 400 for a bad body, 404 for an unknown or offline
// device, 501 for a device without the capability, 504 when it does not
// answer in time, 502 for anything else. Bodies other than 200 are
// {"error":"..."}.
//
// The shortest use:
//
//	http.ListenAndServe("127.0.0.1:8080", adminapi.New(adminapi.FleetOf("stdproto", dev1, dev2), adminapi.WithTimeout(10*time.Second)))
package adminapi
