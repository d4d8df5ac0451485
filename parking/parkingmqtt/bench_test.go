package parkingmqtt_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/internal/latency"
	"github.com/menjin/menjin/parking/parkingsim"
)

// BenchmarkLaneOverBroker: a simulated camera posts IntelligentAlarm over
// the embedded broker; the gateway queues it, the lane decides and invokes
// OperatGate and AddLedData on the camera over the broker; the time is
// until the lane's outcome (commands answered, pass event taken).
func BenchmarkLaneOverBroker(b *testing.B) {
	ctx := context.Background()
	r := newRig(b)
	done := make(chan parking.Outcome, 1)
	allow := accessctl.DeciderFunc(func(_ context.Context, q accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true, Display: []string{q.Credential.Value, "欢迎光临"}, Voice: "欢迎光临"}, nil
	})
	sim, cam, lane := r.lane(b, camA, allow, accessctl.Discard,
		[]parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4})}, nil,
		parking.WithOnOutcome(func(o parking.Outcome) { done <- o }))
	b.ReportAllocs()
	var lat latency.Recorder
	for i := 0; b.Loop(); i++ {
		car := parkingsim.Car{Plate: "京A" + strconv.Itoa(i)}
		t0 := time.Now()
		if err := sim.Arrive(ctx, car); err != nil {
			b.Fatal(err)
		}
		o := <-done
		lat.Add(time.Since(t0))
		if o.Err != nil || !o.GateSent {
			b.Fatalf("outcome %+v", o)
		}
		b.StopTimer()
		waitGate(cam, parking.GateOpened) // the camera's state post, before the car drives on
		sim.DriveThrough(ctx)
		waitGate(cam, parking.GateClosed)
		b.StartTimer()
	}
	lat.Report(b)
	if st := lane.Stats(); st.GateSent != st.Recognitions {
		b.Fatalf("stats %+v", st)
	}
}

func waitGate(cam *parking.ThingCamera, st parking.GateState) {
	for cam.GateState() != st {
		time.Sleep(20 * time.Microsecond)
	}
}

// BenchmarkRawInvokeOverBroker is the same-run baseline: the carrier's raw
// invoke round trips for the same two commands, no recognition, decision
// or event.
func BenchmarkRawInvokeOverBroker(b *testing.B) {
	ctx := context.Background()
	r := newRig(b)
	allow := accessctl.DeciderFunc(func(context.Context, accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true}, nil
	})
	_, cam, _ := r.lane(b, camA, allow, accessctl.Discard,
		[]parkingsim.Option{parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4})}, nil)
	screen := parking.Screen{Plate: "京A00001", Lines: []string{"京A00001", "欢迎光临"}, Voice: "欢迎光临"}
	b.ReportAllocs()
	var lat latency.Recorder
	for b.Loop() {
		t0 := time.Now()
		if err := cam.OperateGate(ctx, parking.GateOpen); err != nil {
			b.Fatal(err)
		}
		if _, err := cam.Show(ctx, screen); err != nil {
			b.Fatal(err)
		}
		lat.Add(time.Since(t0))
	}
	lat.Report(b)
}
