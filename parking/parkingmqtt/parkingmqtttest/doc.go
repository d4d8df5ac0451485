// Package parkingmqtttest is the device side of parkingmqtt for hosts that
// have no camera: a simulated parking camera (parkingsim) connected to a
// LinkKit broker as a device (DialCamera), and a whole lane on one machine
// — broker, host, gateway and camera — for demos and tests (StartSimLane).
//
//	lane, err := parkingmqtttest.StartSimLane(ctx, "entrance-1", decider, sink, nil)
//	defer lane.Close()
//	err = lane.Arrive(ctx, parkingsim.Car{Plate: "京A12345"})
package parkingmqtttest
