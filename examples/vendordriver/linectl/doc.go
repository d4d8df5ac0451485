// Package linectl is the host side of the made-up TCP line protocol of
// examples/vendordriver (whose package doc defines the protocol and walks
// through the driver): a Server that devices dial, register at with a
// per-device secret, and take commands from.
//
//	srv, err := linectl.NewServer(linectl.WithDevice("sn-1", secret), linectl.WithSink(sink),
//		linectl.WithLedger(db.Ledger()))
//	dev, err := srv.Device("sn-1")
//	err = dev.OpenDoor(ctx, accessctl.OpenRequest{})
package linectl
