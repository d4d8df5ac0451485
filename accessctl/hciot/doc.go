// Package hciot makes Menjin a drop-in IoT system for the open-source HC
// property system (HC 小区管理系统 / MicroCommunityThings), in both
// directions of accessctl/PLATFORMS.md §1:
//
//   - Server (direction A) is an http.Handler for HC's /extApi: tokens,
//     communities, machines, residents and door opening. A machine's hmId
//     (HC's 厂家协议) picks the accessctl driver that opens it; residents
//     become grants on the device, recorded in a Ledger from which deletes
//     are computed, because HC's own delete fan-out misses doors.
//   - Uploader (direction B) is an accessctl.EventSink that uploads pass
//     records, command results and heartbeats to HC, signed with HC's md5
//     sign (Sign).
//
// Point HC's IOT_URL at the Server and its c_app_attr upload URLs at HC:
//
//	srv, _ := hciot.NewServer(
//		hciot.WithApp(appID, appSecret),   // HC mapping IOT APP_ID / APP_SECRET
//		hciot.WithDriver("1", "wsterm"),   // HC hmId 1 → the wsterm driver
//	)
//	up := hciot.NewUploader(hcAppID, hcSecurityCode,
//		hciot.WithOpenDoorURL("https://hc.example/api/machine/openDoorLog"),
//		hciot.WithMachines(srv))
//	events := accessctl.NewBuffer(up) // retries what HC could not take yet
//	http.ListenAndServe(":8080", srv)
//
// HC sends its token in an access_token header: a reverse proxy in front
// (nginx) must keep underscores in headers (underscores_in_headers on).
// Wrong app secrets are throttled per socket address (WithTokenThrottle):
// behind such a proxy every caller shares its address, so put the limit
// in the proxy too. A body that names a key twice is refused, not read as
// its last copy. Serve it with an http.Server whose reads are bounded
// (ReadHeaderTimeout, ReadTimeout, IdleTimeout); bodies are bounded here.
// Package hciottest plays HC's side for tests and demos.
package hciot
