// Package stdprototest simulates terminals of the edge "standard protocol"
// (package stdproto) for tests, demos and host developers without
// hardware: a Terminal connects to an edge, keeps alive, reconnects on
// token invalidation, serves every edge → terminal interface from an
// in-memory store (Memory) and posts pass events and alarms.
//
//	edge := stdproto.NewEdge(stdproto.WithFeatureExtractor(stdprototest.Features))
//	// serve edge on 127.0.0.1:10000, then:
//	sim, _ := stdprototest.Start(stdprototest.Config{SN: "T-0001", Edge: "127.0.0.1:10000"})
//	_ = edge.Provision(stdproto.TerminalConfig{SN: "T-0001", Addr: sim.Addr()})
//	_ = sim.WaitConnected(ctx)
//	dev, _ := edge.Terminal("T-0001")
//	_ = dev.OpenDoor(ctx, accessctl.OpenRequest{}) // sim.DoorOpens() == 1
package stdprototest
