package parking_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

// A Lane is an accessctl.Device (OpenDoor lifts the barrier) and passes
// the core's conformance suite against the simulated camera.
func TestLaneIsADevice(t *testing.T) {
	var _ accessctl.Device = (*parking.Lane)(nil)
	var _ accessctl.KeepOpener = (*parking.Lane)(nil)
	accessctltest.TestDevice(t, func(t *testing.T) accessctltest.Fixture {
		sim := parkingsim.New("lane-c")
		cam, err := parkingsim.Loopback(context.Background(), sim)
		require.NoError(t, err)
		lane := parking.NewLane(cam, parking.ListDecider(&parking.PermissionSet{}, false))
		t.Cleanup(func() { lane.Close(); sim.Close() })
		return accessctltest.Fixture{
			Device:     lane,
			Disconnect: sim.Unplug,
			Reconnect:  sim.Plug,
			DoorOpens: func() int {
				n := 0
				for _, c := range sim.GateCommands() {
					if c == parking.GateOpen {
						n++
					}
				}
				return n
			},
		}
	})
}

func TestLaneKeepOpener(t *testing.T) {
	ctx := context.Background()
	f := newLane(t, nil, nil)
	require.NoError(t, f.lane.SetKeepOpen(ctx, 0, true))
	on, err := f.lane.KeepOpen(ctx, 0)
	require.NoError(t, err)
	require.True(t, on)
	require.NoError(t, f.lane.SetKeepOpen(ctx, 0, false))
	on, _ = f.lane.KeepOpen(ctx, 0)
	require.False(t, on)
	require.Equal(t, []parking.GateCommand{parking.GateKeepOpen, parking.GateClose}, f.sim.GateCommands())
	st, err := f.lane.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, accessctl.RoleEntry, st.Info.Role)
}
