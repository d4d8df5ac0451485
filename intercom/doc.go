// Package intercom is the SIP video-intercom part of Menjin: a door station
// that opens the door when a resident says so during a call, the resident
// side that says so, and a small registrar/proxy for a site.
//
// Roles (spec PROTOCOL.md §1):
//
//   - DoorStation answers calls on UDP and TCP (monitoring, §5.2), places
//     visitor calls with early media (§5.1), registers with MD5 digest (§4)
//     and unlocks on INFO/MESSAGE JSON {"req":"unlock","reqsn":N,"sip":"…"}
//     (§6.1–6.3, §6.5), INFO application/dtmf-relay and application/dtmf, and
//     RFC 2833 telephone-event '*' decoded from RTP (§6.4). Unlocks are only
//     accepted inside a dialog we know (481 otherwise), deduplicated by
//     (Call-ID, remote tag, reqsn) for 3 s, checked by a Policy, executed by
//     an Opener (DeviceOpener wraps an accessctl.Device) and reported as
//     UnlockEvent or, with WithSink, as accessctl pass events.
//     Secure by default (§13): INVITEs and unlocks only from the allow-list
//     (WithAllow; default 127.0.0.1 and ::1) and the registrars it registers
//     with, in-dialog requests and RFC 2833 only from the dialog's peer, by
//     socket source address; 3 unlocks per call; un-ACKed INVITEs capped per
//     source and dropped at Timer H (64*T1).
//   - Resident calls a door station or answers its call and sends Call.Unlock:
//     two INFO transactions with one reqsn, a 3 s budget, success from the
//     2xx body or a returned INFO (§6.3), as a typed UnlockResult.
//   - Registrar authenticates REGISTER (digest, expiring nonces, nonce-count
//     replay protection, constant-time compare, digest uri = Request-URI),
//     keeps a location table and record-routes INVITE and in-dialog requests
//     between its accounts only: new requests from a registered socket or
//     with a digest (407), in-dialog ones between the parties of a call it
//     authorised, nothing to foreign hosts.
//
// Each constructor takes its own option type (DoorOption, ResidentOption,
// EndpointOption, RegistrarOption); Option values (WithUser, WithOnCall, ...)
// fit every user-agent role and StackOption values (WithLogger,
// WithTCPIdleTimeout, WithTimerT1) every constructor. WithLogger(nil)
// discards. Requests RFC 4475 calls invalid get 400 (conflicting
// Content-Length), 416 (URI scheme) or 420 (Require).
//
// Signalling runs on github.com/emiago/sipgo, SDP on github.com/pion/sdp/v3.
// Offers are compact (§7.4) so every UDP message stays under sipgo's
// 1300-byte limit; Dial refuses a larger INVITE with ErrTooLarge.
//
// The shortest use, a door station and one unlock on loopback:
//
//	door, _ := intercom.NewDoorStation("127.0.0.1:0", intercom.WithUser("door1"),
//		intercom.WithOpener(intercom.OpenerFunc(func(ctx context.Context, r intercom.UnlockRequest) error {
//			return relay.Pulse(ctx) // your lock
//		})))
//	defer door.Close()
//	res, err := intercom.UnlockOnce(ctx, "127.0.0.1:0", door.URI())
//
// Known limits: no SRTP/TLS/WebSocket (the profile has none), no media
// processing (RTP is read only to find telephone-events), the registrar does
// not fork, and sipgo rejects LF-only SIP messages.
package intercom
