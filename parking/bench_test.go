package parking_test

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

func benchLane(b *testing.B) (*parkingsim.Camera, *parking.ThingCamera, *parking.Lane) {
	ctx := context.Background()
	sim := parkingsim.New("bench", parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4}))
	cam, err := parkingsim.Loopback(ctx, sim)
	if err != nil {
		b.Fatal(err)
	}
	allow := accessctl.DeciderFunc(func(_ context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
		return accessctl.Decision{Allow: true, Display: []string{r.Credential.Value, "欢迎光临"}, Voice: "欢迎光临"}, nil
	})
	lane := parking.NewLane(cam, allow, parking.WithSink(accessctl.Discard), parking.WithDirection(accessctl.DirectionIn))
	b.Cleanup(func() { lane.Close(); sim.Close() })
	return sim, cam, lane
}

// BenchmarkLanePlateToCommands: the camera posts a recognition (picture and
// record encoded, decoded by the driver), the Decider answers, the lane
// sends OperatGate and AddLedData (encoded, decoded by the camera) and
// reports the pass event. In memory: no carrier.
func BenchmarkLanePlateToCommands(b *testing.B) {
	ctx := context.Background()
	sim, _, lane := benchLane(b)
	b.ReportAllocs()
	var lat latency.Recorder
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		car := parkingsim.Car{Plate: "京A" + strconv.Itoa(i)} // a new car each time: no duplicates
		t0 := time.Now()
		if err := sim.Arrive(ctx, car); err != nil {
			b.Fatal(err)
		}
		lat.Add(time.Since(t0))
		b.StopTimer()
		sim.DriveThrough(ctx) // the barrier closes behind the car
		b.StartTimer()
	}
	lat.Report(b)
	if st := lane.Stats(); st.Duplicates > 0 || st.GateSent != st.Recognitions {
		b.Fatalf("not every car went the whole way: %+v", st)
	}
}

// BenchmarkRawInvoke is the baseline: the same two commands (OperatGate
// and AddLedData) sent by the driver directly, without recognition,
// decision or event.
func BenchmarkRawInvoke(b *testing.B) {
	ctx := context.Background()
	sim, cam, _ := benchLane(b)
	screen := parking.Screen{Plate: "京A00001", Lines: []string{"京A00001", "欢迎光临"}, Voice: "欢迎光临"}
	b.ReportAllocs()
	var lat latency.Recorder
	b.ResetTimer()
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
	_ = sim
}
