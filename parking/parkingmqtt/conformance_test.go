package parkingmqtt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt/parkingmqtttest"
	"github.com/menjin/menjin/parking/parkingsim"
)

// A lane over the embedded broker passes the core's Device suite: the
// camera's session is the device's online state.
func TestLaneOverBrokerIsADevice(t *testing.T) {
	accessctltest.TestDevice(t, func(t *testing.T) accessctltest.Fixture {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		r := newRig(t)
		sim := parkingsim.New(camA.DeviceName)
		lane := parking.NewLane(r.gw.Camera(camA.Key()), parking.ListDecider(&parking.PermissionSet{}, false))
		var mu sync.Mutex
		dial := func() *parkingmqtttest.Device {
			d, err := parkingmqtttest.DialCamera(ctx, r.broker.URL(), camA, sim)
			require.NoError(t, err)
			require.NoError(t, r.host.WaitReady(ctx, camA.Key()))
			return d
		}
		dev := dial()
		t.Cleanup(func() {
			lane.Close()
			mu.Lock()
			if dev != nil {
				dev.Close()
			}
			mu.Unlock()
			sim.Close()
		})
		return accessctltest.Fixture{
			Device: lane,
			Disconnect: func() {
				mu.Lock()
				defer mu.Unlock()
				require.NoError(t, dev.Close())
				dev = nil
			},
			Reconnect: func() {
				d := dial()
				mu.Lock()
				dev = d
				mu.Unlock()
			},
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
	var _ accessctl.Device = (*parking.Lane)(nil)
}
