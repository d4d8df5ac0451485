// Package faults holds Menjin's cross-driver fault tests (issue 9): devices
// that go silent or drop mid-command, a reconnect storm, a platform that
// answers 5xx, hangs or refuses credentials behind the durable outbox, a
// full outbox, and device clocks far from ours. It has no API; every test
// states in a comment what must hold and checks it.
//
//	go test -race ./internal/faults/
package faults
