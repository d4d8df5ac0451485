package parkingmqtttest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt"
	"github.com/menjin/menjin/parking/parkingsim"
	"github.com/menjin/menjin/transport/thingmodel"
)

// SimLane is a whole lane over the carrier, on one machine: an embedded
// broker on 127.0.0.1, a Host with a Gateway, and a simulated camera
// connected to the broker as a device. Drive cars with its embedded
// parkingsim.Lane.
type SimLane struct {
	*parkingsim.Lane
	Broker  *thingmodel.Broker
	Host    *thingmodel.Host
	Gateway *parkingmqtt.Gateway
	Device  *Device
}

// StartSimLane starts a SimLane whose camera is ProductKey "SIM",
// DeviceName name.
func StartSimLane(ctx context.Context, name string, decider accessctl.Decider, sink accessctl.EventSink,
	simOpts []parkingsim.Option, laneOpts ...parking.LaneOption) (*SimLane, error) {
	tr := thingmodel.Triple{ProductKey: "SIM", DeviceName: name, DeviceSecret: "sim-" + name}
	s := &SimLane{Gateway: parkingmqtt.NewGateway()}
	var err error
	if s.Broker, err = thingmodel.NewBroker(thingmodel.Secrets{tr.Key(): tr.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0")); err != nil {
		return nil, err
	}
	if s.Host, err = thingmodel.NewHost(ctx, thingmodel.WithEmbeddedBroker(s.Broker), thingmodel.WithHandler(s.Gateway)); err != nil {
		s.Broker.Close()
		return nil, err
	}
	s.Gateway.Bind(s.Host)
	cam := s.Gateway.Camera(tr.Key())
	sim := parkingsim.New(name, append([]parkingsim.Option{parkingsim.WithIdentity(tr.ProductKey, tr.DeviceName)}, simOpts...)...)
	s.Lane = parkingsim.Attach(sim, cam, decider, sink, laneOpts...)
	if s.Device, err = DialCamera(ctx, s.Broker.URL(), tr, sim); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Host.WaitReady(ctx, tr.Key()); err != nil {
		s.Close()
		return nil, err
	}
	for cam.GateState() == parking.GateUnknown { // the camera's first property post
		select {
		case <-ctx.Done():
			s.Close()
			return nil, fmt.Errorf("camera properties: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return s, nil
}

// Close stops everything, the lane first.
func (s *SimLane) Close() error {
	var errs []error
	if s.Lane != nil {
		errs = append(errs, s.Lane.Lane.Close())
	}
	if s.Device != nil {
		errs = append(errs, s.Device.Close())
	}
	if s.Lane != nil {
		errs = append(errs, s.Lane.Sim.Close())
	}
	if s.Host != nil {
		errs = append(errs, s.Host.Close())
	}
	errs = append(errs, s.Broker.Close())
	return errors.Join(errs...)
}
