package accessctl

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Driver opens device handles for one protocol. Drivers whose devices dial
// in (a WebSocket terminal server, an MQTT broker) register the running
// server instance, so that Open hands out a handle to a device that is, or
// will be, connected to it; drivers that dial out register a value that
// connects on Open.
type Driver interface {
	Open(ctx context.Context, cfg DeviceConfig) (Device, error)
}

// DriverFunc adapts a function to a Driver.
type DriverFunc func(ctx context.Context, cfg DeviceConfig) (Device, error)

// Open calls f(ctx, cfg).
func (f DriverFunc) Open(ctx context.Context, cfg DeviceConfig) (Device, error) { return f(ctx, cfg) }

// DeviceConfig tells a driver which device to open. Params carries
// protocol-specific settings, such as those a platform passes along with a
// machine (HC's attrs).
type DeviceConfig struct {
	ID        string            // the device's identity in its protocol (sn, machineCode, iotId)
	Addr      string            // where to reach it, for drivers that dial out
	Name      string            // a human name
	Site      SiteRef           // the site it belongs to
	Direction Direction         // which way its door goes, where the protocol does not say
	Params    map[string]string // protocol-specific settings
}

// Registry maps protocol names to drivers. The zero value is ready to use.
// Most programs use the package-level Register and Open; a program that runs
// several independent gateways can keep a Registry each.
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Driver
}

// Register makes a driver available under name. It panics if name is empty,
// d is nil or name is taken, as database/sql does: a duplicate is a
// programming error.
func (r *Registry) Register(name string, d Driver) {
	if name == "" || d == nil {
		panic("accessctl: Register with an empty name or a nil driver")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[name]; dup {
		panic("accessctl: Register called twice for driver " + name)
	}
	if r.drivers == nil {
		r.drivers = make(map[string]Driver)
	}
	r.drivers[name] = d
}

// Unregister removes a driver, for programs and tests that replace one.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	delete(r.drivers, name)
	r.mu.Unlock()
}

// Driver returns the driver registered under name.
func (r *Registry) Driver(name string) (Driver, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[name]
	return d, ok
}

// Open opens a device with the driver registered under name. An unknown
// name gives ErrUnknownDriver.
func (r *Registry) Open(ctx context.Context, name string, cfg DeviceConfig) (Device, error) {
	d, ok := r.Driver(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDriver, name)
	}
	return d.Open(ctx, cfg)
}

// Drivers lists the registered names, sorted.
func (r *Registry) Drivers() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultRegistry is the registry behind the package-level functions.
var DefaultRegistry = &Registry{}

// Register registers d under name in DefaultRegistry.
func Register(name string, d Driver) { DefaultRegistry.Register(name, d) }

// Open opens a device through DefaultRegistry.
func Open(ctx context.Context, name string, cfg DeviceConfig) (Device, error) {
	return DefaultRegistry.Open(ctx, name, cfg)
}

// Drivers lists the names registered in DefaultRegistry.
func Drivers() []string { return DefaultRegistry.Drivers() }
