package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
)

// terminalDriver is the driver name terminals register under; map HC hmIds
// to it with -hm.
const terminalDriver = "wsterm"

// terminalBackend is what hcbridge needs from the terminal side: a driver
// HC's machines are opened with, the handler terminals connect to, and
// simulated terminals.
type terminalBackend interface {
	accessctl.Driver
	http.Handler
	// NeedsListener reports whether simulated terminals dial a listener.
	NeedsListener() bool
	// Simulate starts n terminals sim-1 … sim-n that connect to addr.
	Simulate(ctx context.Context, n int, addr string) error
	Describe() string
	Close() error
}

// fakeTerminals stands in for the WebSocket terminal driver until it lands
// on main: in-process accessctltest.FakeDevice values keyed by serial
// number. Replace newTerminals to wire the real driver.
type fakeTerminals struct {
	sink accessctl.EventSink
	log  *slog.Logger

	mu      sync.Mutex
	devices map[string]*accessctltest.FakeDevice
}

func newTerminals(sink accessctl.EventSink, log *slog.Logger) terminalBackend {
	log.Warn("WebSocket terminal driver not wired in this build: terminals are in-process fakes")
	return &fakeTerminals{sink: sink, log: log, devices: map[string]*accessctltest.FakeDevice{}}
}

func (f *fakeTerminals) Describe() string { return "in-process fake terminals" }

func (f *fakeTerminals) NeedsListener() bool { return false }

// Open hands out the terminal with the machineCode as serial number. One
// that never connected is offline: its calls fail with ErrOffline.
func (f *fakeTerminals) Open(ctx context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	f.mu.Lock()
	d, ok := f.devices[cfg.ID]
	if !ok {
		d = accessctltest.NewFakeDevice(cfg.ID, f.sink)
		f.devices[cfg.ID] = d
	}
	f.mu.Unlock()
	if !ok {
		_ = d.SetOnline(ctx, false)
	}
	return d, nil
}

func (f *fakeTerminals) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "this build has no WebSocket terminal driver", http.StatusNotImplemented)
}

func (f *fakeTerminals) Simulate(ctx context.Context, n int, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i <= n; i++ {
		sn := fmt.Sprintf("sim-%d", i)
		if _, ok := f.devices[sn]; !ok {
			f.devices[sn] = accessctltest.NewFakeDevice(sn, f.sink)
		}
	}
	return nil
}

// device returns a fake terminal, for tests.
func (f *fakeTerminals) device(sn string) *accessctltest.FakeDevice {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.devices[sn]
}

func (f *fakeTerminals) Close() error { return nil }

// The device side, for tests: what a terminal holds, a pass on it, and how
// often its door opened.
func (f *fakeTerminals) holds(sn, personID string) (string, bool) {
	d := f.device(sn)
	if d == nil {
		return "", false
	}
	return d.Holds(personID)
}

func (f *fakeTerminals) pass(ctx context.Context, sn, personID string) error {
	d := f.device(sn)
	if d == nil {
		return fmt.Errorf("no terminal %s", sn)
	}
	return d.Pass(ctx, personID)
}

func (f *fakeTerminals) doorOpens(sn string) int {
	d := f.device(sn)
	if d == nil {
		return 0
	}
	return d.DoorOpens()
}
