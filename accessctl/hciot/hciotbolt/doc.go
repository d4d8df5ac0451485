// Package hciotbolt keeps the durable state of an hciot.Server in a bbolt
// database — the grant ledger (which person HC put on which device) and the
// machines HC registered — so that a restarted bridge still removes persons
// from the devices it put them on and still knows each device's community.
//
// Share the database with the outbox and the reconciler (each keeps its own
// top-level bucket):
//
//	sdb, _ := store.Open(dataDir)          // accessctl/store
//	ledger, _ := hciotbolt.NewLedger(sdb.Bolt())
//	machines, _ := hciotbolt.NewMachines(sdb.Bolt())
//	srv, _ := hciot.NewServer(hciot.WithApp(id, secret), hciot.WithLedger(ledger))
//	_ = machines.Restore(ctx, srv)          // re-register what HC added before the restart
//	// after every machine command: machines.Save(srv.Machines())
package hciotbolt
