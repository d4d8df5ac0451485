// Package parkingmqtt runs the parking camera over the thing-model carrier
// (transport/thingmodel, Alink over MQTT): Gateway is the host side, a
// thingmodel.Handler that turns each camera's posts into parking events
// and its services into invokes. The device side — a simulated camera
// connected to the broker like a real one, and a whole lane on one machine
// — is in parkingmqtttest.
//
//	gw := parkingmqtt.NewGateway()
//	host, _ := thingmodel.NewHost(ctx, thingmodel.WithSecrets(secrets), thingmodel.WithHandler(gw))
//	gw.Bind(host)
//	lane := parking.NewLane(gw.Camera(key), decider, parking.WithSink(sink), parking.WithDirection(accessctl.DirectionIn))
//
// Recognitions travel as the event IntelligentAlarm with the LinkVisual
// field names (type, format, media in base64, addition_string); pictures
// over the carrier's 256 KiB limit travel as mediaUrl on the edge file
// service instead.
package parkingmqtt
