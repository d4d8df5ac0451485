// Package parking drives parking lanes: the multi-function parking camera's
// thing model (properties, services and events with their exact wire
// identifiers, misspellings included), the LED screen in both modes
// (LedData for mixed mode, NoticeBroadcast/NoticeDisplay/DefaultDisplay for
// separated mode), the barrier, plate recognitions and pass records, the
// vehicle permission file and the edge file service for pictures.
//
// A Lane turns a recognised plate into a decision by the host's
// accessctl.Decider, opens the barrier and updates the screen at once
// within a bounded time, and reports an accessctl pass event; duplicate
// recognitions of one car act once and barrier commands are serialised.
// Abnormal lifts become alarm events. A Lane is also an accessctl.Device
// whose OpenDoor lifts the barrier.
//
// The camera is reached through an Invoker (any thing-model carrier);
// ThingCamera is the host-side driver, parkingmqtt runs it over the MQTT
// thing-model carrier, and parkingsim is a simulated camera:
//
//	sim := parkingsim.New("lane-1")
//	cam, _ := parkingsim.Loopback(ctx, sim)
//	lane := parking.NewLane(cam, parking.ListDecider(list, false), parking.WithSink(sink),
//		parking.WithDirection(accessctl.DirectionIn))
//	defer lane.Close()
//	_ = sim.Arrive(ctx, parkingsim.Car{Plate: "京A12345"})
//
// Codecs follow spec PROTOCOL.md: they accept what devices and the
// cloud send (objects or JSON in strings, numeric strings, either key
// case) and produce strictly (numbers as numbers, limits in bytes). Bad
// input is a *FieldError matching ErrSyntax, ErrMissing, ErrTooLong,
// ErrOutOfRange, ErrUnknownValue or ErrBadType, and accessctl.ErrInvalid.
package parking
