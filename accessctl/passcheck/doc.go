// Package passcheck decides pass attempts at a door that holds its own
// permissions (a permfile.Store): RSA-signed or plain QR codes, cards, BLE
// cards and passwords, with the platform's exact result codes and messages
// (spec accessctl/linkkit/PROTOCOL.md §4.7, §5.4), scan limits counted
// atomically, a debounce window for repeated camera frames, and a clock
// that must be trusted before anything opens (ErrClockUnsynced).
//
// A Checker is an accessctl.Decider, so drivers whose devices ask "may this
// code pass?" (the HTTP standard protocol's /qrcode, the LinkKit door) reuse
// it; Present and Scan also send the pass event to an accessctl.EventSink,
// which is what a door (or a simulated one) does. Event.Raw carries the
// LinkKit passEvent payload (WirePassEvent).
//
// Shortest use:
//
//	door := passcheck.New(store, passcheck.WithKey(key), passcheck.WithSink(sink))
//	outcome, err := door.Scan(ctx, scannedText) // outcome.Decision.Allow: open the lock
package passcheck
