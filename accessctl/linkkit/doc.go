// Package linkkit drives LinkKit "multi-function doors" (多功能门禁) — the
// community IoT platform's thing-model door — directly from a host, over
// the thing-model carrier in transport/thingmodel (embedded MQTT broker by
// default, or an existing broker).
//
// The door's thing model (spec PROTOCOL.md §1–6) maps as:
//
//	remoteOpen       service   Door.OpenDoor
//	syncPermissions  service   Door.PutGrant / RemoveGrant / Sync: a delta
//	                           permission file (QR, card, BLE card, password
//	                           lists; add / delete / modify) served by a
//	                           FileServer under an unguessable, expiring,
//	                           size-bounded URL
//	RSAPublicKey     property  pushed by the Hub after every connect
//	passEvent        event     an accessctl pass event to the EventSink, with
//	                           the full result-code table; acknowledged to
//	                           the door only once the sink took it
//
// Doors authenticate with their triple; the embedded broker confines each
// to its own topics (its will and retained messages included), so one door
// cannot open another or forge its passes, and bounds what it reads before
// authentication (see transport/thingmodel). examples/linkkitgateway runs
// a Hub as a gateway with the shared admin API.
//
// A door cannot list what it holds: the hub records each person's entries
// in an accessctl.Ledger (WithLedger; in memory by default) so that
// RemoveGrant deletes them, after a restart too.
//
// Faces are not carried: LinkFace is a separate binary SDK (spec §7).
//
// DoorClient is the other end, for door firmware written in Go and for
// simulators: it applies permission files with permfile, verifies scans
// with passcheck (RSA QR codes via qrcode) and posts passEvent.
//
// Shortest use:
//
//	files, _ := linkkit.ServeFiles(":8089", "192.168.1.10:8089")
//	hub, _ := linkkit.NewHub(ctx,
//		linkkit.WithHostOptions(thingmodel.WithSecrets(secrets)),
//		linkkit.WithFileServer(files), linkkit.WithSink(sink),
//		linkkit.WithRSAPublicKey(publicKeyBase64),
//		linkkit.WithLedger(db.Ledger())) // db from store.Open: removals survive a restart
//	door := hub.Door(thingmodel.DeviceKey{ProductKey: "a1DoorPK001", DeviceName: "door-a"})
//	err := door.OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"})
package linkkit
