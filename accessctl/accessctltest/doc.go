// Package accessctltest is a conformance suite that every accessctl driver
// runs against its own device or simulator, in the style of
// golang.org/x/net/nettest.TestConn:
//
//	func TestConformance(t *testing.T) {
//		accessctltest.TestDevice(t, newFixture)
//		accessctltest.TestPermissionSync(t, newFixture)
//		accessctltest.TestEvents(t, newFixture)
//	}
//
// The fixture connects one device under test to whatever plays the device
// side (a simulator, a real terminal on a bench) and lets the suite look at
// the device side: what it holds, how often its door opened, what it had
// acknowledged. The driver's EventSink is a Sink from NewSink, through which
// the suite watches deliveries and refuses some on purpose. Each suite names
// its subtests under its own prefix (Device/…, PermissionSync/…, Events/…),
// so several suites run in one test without colliding.
package accessctltest
