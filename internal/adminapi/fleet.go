package adminapi

import (
	"context"

	"github.com/menjin/menjin/accessctl"
)

// Entry is one row of GET /devices.
type Entry struct {
	SN     string `json:"sn"`
	IP     string `json:"ip"`
	MAC    string `json:"mac"`
	Type   string `json:"type"`
	Online bool   `json:"online"`
}

// Fleet is what the API needs from a gateway: its devices listed, and one
// found by serial number.
type Fleet interface {
	// Devices lists every device the gateway knows, online or not, in any
	// order (the API sorts by sn).
	Devices(ctx context.Context) []Entry
	// Device returns the device with serial number sn, false when the
	// gateway does not know it (the API answers 404).
	Device(sn string) (accessctl.Device, bool)
}

// FleetOf is a Fleet over a fixed set of devices, keyed by ID. Each lists
// with what its Status says (IP, MAC, online) and typ as its type.
func FleetOf(typ string, devs ...accessctl.Device) Fleet {
	f := fixedFleet{typ: typ, devs: make(map[string]accessctl.Device, len(devs))}
	for _, d := range devs {
		f.devs[d.ID()] = d
	}
	return f
}

type fixedFleet struct {
	typ  string
	devs map[string]accessctl.Device
}

func (f fixedFleet) Device(sn string) (accessctl.Device, bool) {
	d, ok := f.devs[sn]
	return d, ok
}

func (f fixedFleet) Devices(ctx context.Context) []Entry {
	out := make([]Entry, 0, len(f.devs))
	for sn, d := range f.devs {
		st, err := d.Status(ctx)
		out = append(out, Entry{SN: sn, IP: st.Info.IP, MAC: st.Info.MAC, Type: f.typ, Online: err == nil && st.Online})
	}
	return out // New sorts
}
