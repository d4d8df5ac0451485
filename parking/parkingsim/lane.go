package parkingsim

import (
	"context"
	"sync"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
)

// Lane is a whole simulated lane: the simulated camera, its host-side
// driver wired in memory, and a parking.Lane deciding with the host's
// Decider. Demos and host tests drive cars through it.
type Lane struct {
	Sim    *Camera
	Camera *parking.ThingCamera
	Lane   *parking.Lane

	mu       sync.Mutex
	outcomes map[string]parking.Outcome // by event id
	last     parking.Outcome
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

// NewLane builds a simulated lane named id. sink receives the pass and
// alarm events (nil: discarded). The lane's WithOnOutcome is taken by
// Drive; pass other lane options as usual.
func NewLane(ctx context.Context, id string, decider accessctl.Decider, sink accessctl.EventSink,
	simOpts []Option, laneOpts ...parking.LaneOption) (*Lane, error) {
	l := &Lane{Sim: New(id, simOpts...), outcomes: map[string]parking.Outcome{}}
	cam, err := Loopback(ctx, l.Sim)
	if err != nil {
		l.Sim.Close()
		return nil, err
	}
	l.Camera = cam
	laneOpts = append(laneOpts, parking.WithOnOutcome(func(o parking.Outcome) {
		l.mu.Lock()
		l.outcomes[o.EventID] = o
		l.last = o
		l.mu.Unlock()
	}))
	l.Lane = parking.NewLane(cam, decider, sink, laneOpts...)
	return l, nil
}

// Drive brings car to the barrier and reports the decision, the screen
// and the barrier. It does not drive the car through: call Pass for that
// (the barrier then closes behind it).
func (l *Lane) Drive(ctx context.Context, car Car) (CarReport, error) {
	err := l.Sim.Arrive(ctx, car)
	id := l.Camera.ID() + "/" + l.Sim.LastEventID()
	l.mu.Lock()
	o, ok := l.outcomes[id]
	if !ok {
		o = l.last
	}
	delete(l.outcomes, id)
	l.mu.Unlock()
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
	if err == nil {
		err = o.Err
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep, err
}

// Pass drives the car through: the barrier closes behind it.
func (l *Lane) Pass(ctx context.Context) { l.Sim.DriveThrough(ctx) }

// Close stops the lane and the camera.
func (l *Lane) Close() error {
	err := l.Lane.Close()
	l.Sim.Close()
	return err
}
