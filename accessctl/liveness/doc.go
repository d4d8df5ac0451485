// Package liveness gives drivers one rule for online and offline: a device
// is online from its first frame, offline when its connection closes or
// after a bounded silence, and the platform hears about each change once, as
// an accessctl.Event — never a stale online.
//
// A driver calls Seen for every frame it reads (heartbeats included), Lost
// when a connection closes, and Status from its Device.Status:
//
//	lv := liveness.New(sink, liveness.WithTimeout(3*heartbeat))
//	defer lv.Close(ctx)
//	// reader loop:
//	if err := lv.Seen(ctx, ref); err != nil { ... } // the sink refused the online event
//	// connection closed:
//	_ = lv.Lost(ctx, ref)
//
// Offline after silence is reported within Timeout + CheckEvery of the last
// frame. Event IDs are derived from the online period, so a sink that
// dedupes by ID sees each transition once.
package liveness
