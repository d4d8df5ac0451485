package adminapi

import (
	"context"
	"fmt"
	"maps"

	"github.com/menjin/menjin/accessctl"
)

// FleetOf is a Source over a fixed set of devices, keyed by ID: each lists
// with what its Status says (IP, MAC, online; offline when Status fails),
// typ as its type unless the status names one, and Open hands out the
// device itself.
func FleetOf(typ string, devs ...accessctl.Device) Source {
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

func (f fixedFleet) Open(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	d, ok := f.devs[cfg.ID]
	if !ok {
		return nil, fmt.Errorf("%w: device %q", accessctl.ErrNotFound, cfg.ID)
	}
	return d, nil
}

func (f fixedFleet) Devices(ctx context.Context) ([]accessctl.Status, error) {
	out := make([]accessctl.Status, 0, len(f.devs))
	for id, d := range f.devs {
		st, err := d.Status(ctx)
		if err != nil {
			st = accessctl.Status{}
		}
		st.Device.ID = id
		if st.Info.Extra["type"] == "" {
			extra := maps.Clone(st.Info.Extra) // the device's map is its own
			if extra == nil {
				extra = map[string]string{}
			}
			extra["type"] = f.typ
			st.Info.Extra = extra
		}
		out = append(out, st)
	}
	return out, nil
}
