// Package liveness gives drivers one rule for online and offline: a device
// is online from its first frame, offline when its connection closes or
// after a bounded silence, and the platform hears about each change once, as
// an accessctl.Event — never a stale online.
//
// A driver calls Connected for every new session or registration, Seen for
// every frame it reads (heartbeats included), Lost when a connection closes,
// and Status from its Device.Status:
//
//	lv := liveness.New(sink, liveness.WithTimeout(3*heartbeat))
//	defer lv.Close(ctx)
//	// reader loop:
//	if err := lv.Seen(ctx, ref); err != nil { ... } // the sink refused the online event
//	// connection closed:
//	_ = lv.Lost(ctx, ref)
//
// Offline after silence is reported within Timeout + CheckEvery of the last
// frame. Every KindOnline event means a (re)connect: a device that
// registers again while believed online (it rebooted inside the offline
// window) gets a new online event, so a reconciler knows to resync.
//
// Status events follow the rules of pass events: one that the sink refuses
// is emitted again, with the same ID (see EventID), at the next frame or
// check; one given up (superseded, or refused at Close) is counted as
// Dropped in the DeliveryStats passed with WithDelivery.
package liveness
