// Package thingmodel carries "thing-model" devices — LinkKit doors, parking
// cameras — over MQTT with the Alink JSON protocol, so that a host can drive
// them on its own edge box without the vendor's cloud.
//
// Wire: requests {"id","version","params","method"} and replies
// {"id","code","data"} on /sys/{productKey}/{deviceName}/thing/... topics:
// property post (thing.event.property.post) and set
// (thing.service.property.set), event posts (thing/event/{id}/post) and
// service invokes (thing/service/{id}), each answered on the same topic
// plus "_reply" with the request's id. Ids are decimal strings; numeric ids
// from field firmware are accepted.
//
// A Host runs an embedded MQTT broker by default (mochi-mqtt): devices log in
// with the LinkKit convention — client id "{id}|securemode=3,signmethod=hmacsha256,timestamp={ms}|",
// username "{deviceName}&{productKey}", password hex HMAC(deviceSecret,
// "clientId{id}deviceName{dn}productKey{pk}timestamp{ms}") — and may only
// publish their own upward topics and subscribe under their own prefix.
// Sessions give online/offline; a second login of a device replaces the
// first.
//
// What the embedded broker enforces (BrokerStats counts each refusal):
//   - ACL, the same for every way a device can publish: direct publishes,
//     its will (checked at CONNECT: a will on a topic the device may not
//     publish refuses the connection with CONNACK "not authorized", so the
//     misconfiguration shows at once instead of a will silently lost) and
//     retained messages. A device retains only on its own status topic;
//     elsewhere the retain flag is cleared, so nothing it sent is replayed
//     later as if new.
//   - Bounds before authentication: packets above WithMaxPacketSize
//     (DefaultMaxPacketSize, 256 KiB) are refused from their fixed header,
//     before the body is read or allocated, CONNECT included; a socket has
//     WithConnectTimeout (DefaultConnectTimeout, 10 s) to send its CONNECT,
//     the signature check at most 5 s more; at most WithMaxPendingConnections
//     (DefaultMaxPendingConnections, 256) sockets may wait to authenticate,
//     more are closed at once.
//   - Idle sessions are closed after 1.5 × their keepalive (whole seconds);
//     a keepalive of 0 or above WithMaxKeepAlive (DefaultMaxKeepAlive,
//     5 min) is replaced by it.
//   - A disconnected persistent session is kept at most 10 minutes.
//   - Accept errors (EMFILE, ENFILE...) back off from 5 ms to 1 s and the
//     broker keeps accepting.
//   - Secrets and passwords appear in no log line and no printed form of
//     Secrets, Triple or Credentials.
//
// WithBrokerURL makes the Host a client of an existing broker (Mosquitto,
// EMQX) instead; session state then comes from the devices'
// retained announcements on /as/mqtt/status/{pk}/{dn}.
//
// Posts are acknowledged (code 200) only after the Handler returned nil:
// a device that keeps unacknowledged events loses none to a host failure.
//
// DeviceClient is the device side, for simulators and Go firmware.
//
// Shortest use:
//
//	h, _ := thingmodel.NewHost(ctx, thingmodel.WithSecrets(thingmodel.Secrets{
//		{ProductKey: "a1DoorPK001", DeviceName: "door-a"}: "secret",
//	}), thingmodel.WithHandler(thingmodel.HandlerFunc(func(ctx context.Context, m *thingmodel.Message) error {
//		log.Printf("%s %s %s", m.Device, m.Identifier, m.Value)
//		return nil
//	})))
//	defer h.Close()
//	_, err := h.Invoke(ctx, thingmodel.DeviceKey{ProductKey: "a1DoorPK001", DeviceName: "door-a"}, "remoteOpen", nil)
package thingmodel
