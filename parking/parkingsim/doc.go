// Package parkingsim is a simulated multi-function parking camera for host
// developers and tests: it answers the thing model's services, renders
// what its LED screen would show, moves a barrier, keeps a permission list
// and reports recognitions of scripted cars.
//
// The shortest lane, in memory:
//
//	sim := parkingsim.New("lane-1")
//	cam, _ := parkingsim.Loopback(ctx, sim)
//	lane := parking.NewLane(cam, decider, parking.WithSink(sink), parking.WithDirection(accessctl.DirectionIn))
//	_ = sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"})
//	fmt.Println(sim.Display().Rows, sim.GateState())
package parkingsim
