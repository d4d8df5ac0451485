package parkingsim

import (
	"context"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
)

// Lane is a whole simulated lane: the simulated camera, its host-side
// driver and a parking.Lane deciding with the host's Decider. Demos and
// host tests drive cars through it. Drive one car at a time.
type Lane struct {
	Sim    *Camera
	Camera *parking.ThingCamera
	Lane   *parking.Lane

	outcomes chan parking.Outcome
}

// CarReport is what happened to one car, as a demo prints it.
type CarReport struct {
	Plate     string   `json:"plate"`
	Allowed   bool     `json:"allowed"`
	Code      int      `json:"code"`
	Message   string   `json:"message,omitempty"`
	Person    string   `json:"person,omitempty"`
	Screen    []string `json:"screen"` // the rows the LED shows now
	Voice     string   `json:"voice,omitempty"`
	Gate      string   `json:"gate"` // the barrier's state after the decision
	Duplicate bool     `json:"duplicate,omitempty"`
	Fallback  bool     `json:"fallback,omitempty"`
	LatencyUS int64    `json:"latencyUs"`
	Error     string   `json:"error,omitempty"`
}

// NewLane builds a simulated lane named id, wired in memory (Loopback).
// sink receives the pass and alarm events (nil: discarded). The lane's
// WithOnOutcome is taken by Drive; pass other lane options as usual.
func NewLane(ctx context.Context, id string, decider accessctl.Decider, sink accessctl.EventSink,
	simOpts []Option, laneOpts ...parking.LaneOption) (*Lane, error) {
	sim := New(id, simOpts...)
	cam, err := Loopback(ctx, sim)
	if err != nil {
		sim.Close()
		return nil, err
	}
	return Attach(sim, cam, decider, sink, laneOpts...), nil
}

// Attach builds a Lane on a camera driver that already reaches sim by
// some carrier (for example parkingmqtt over a broker).
func Attach(sim *Camera, cam *parking.ThingCamera, decider accessctl.Decider, sink accessctl.EventSink, laneOpts ...parking.LaneOption) *Lane {
	l := &Lane{Sim: sim, Camera: cam, outcomes: make(chan parking.Outcome, 64)}
	laneOpts = append(laneOpts, parking.WithOnOutcome(func(o parking.Outcome) {
		select {
		case l.outcomes <- o:
		default: // nobody is driving: Drive only waits for its own car
		}
	}))
	l.Lane = parking.NewLane(cam, decider, append([]parking.LaneOption{parking.WithSink(sink)}, laneOpts...)...)
	return l
}

// Drive brings car to the barrier, waits for the lane's outcome (over a
// carrier the camera's post is acknowledged before the lane acts) and
// reports the decision, the screen and the barrier. It does not drive the
// car through: call Pass for that (the barrier then closes behind it).
func (l *Lane) Drive(ctx context.Context, car Car) (CarReport, error) {
	for len(l.outcomes) > 0 { // outcomes nobody waited for
		<-l.outcomes
	}
	if err := l.Sim.Arrive(ctx, car); err != nil {
		if o, ok := l.take(car); ok { // the lane acted, the report failed
			return l.report(car, o), err
		}
		return CarReport{Plate: car.Plate, Error: err.Error()}, err
	}
	for {
		select {
		case o := <-l.outcomes:
			if parking.PlateKey(o.Plate) != parking.PlateKey(car.Plate) {
				continue
			}
			rep := l.report(car, o)
			if o.Err != nil {
				return rep, o.Err
			}
			return rep, nil
		case <-ctx.Done():
			return CarReport{Plate: car.Plate, Error: ctx.Err().Error()}, ctx.Err()
		}
	}
}

func (l *Lane) take(car Car) (parking.Outcome, bool) {
	for {
		select {
		case o := <-l.outcomes:
			if parking.PlateKey(o.Plate) == parking.PlateKey(car.Plate) {
				return o, true
			}
		default:
			return parking.Outcome{}, false
		}
	}
}

func (l *Lane) report(car Car, o parking.Outcome) CarReport {
	d := l.Sim.Display()
	rep := CarReport{
		Plate: car.Plate, Allowed: o.Decision.Allow, Code: o.Decision.Result.Code, Message: o.Decision.Result.Message,
		Voice: d.Voice, Gate: d.Gate.String(), Duplicate: o.Duplicate, Fallback: o.Fallback,
		LatencyUS: o.Latency.Microseconds(),
	}
	if o.Decision.Person != nil {
		rep.Person = o.Decision.Person.String()
	}
	for _, r := range d.Rows {
		rep.Screen = append(rep.Screen, r.Text)
	}
	if o.Err != nil {
		rep.Error = o.Err.Error()
	}
	return rep
}

// Pass drives the car through: the barrier closes behind it.
func (l *Lane) Pass(ctx context.Context) { l.Sim.DriveThrough(ctx) }

// Close stops the lane and the camera.
func (l *Lane) Close() error {
	err := l.Lane.Close()
	l.Sim.Close()
	return err
}
