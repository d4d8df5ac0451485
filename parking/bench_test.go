package parking_test

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

// latencies records one duration per iteration and reports p50/p99 and
// throughput.
type latencies struct {
	d     []time.Duration
	start time.Time
}

func newLatencies(n int) *latencies {
	return &latencies{d: make([]time.Duration, 0, n), start: time.Now()}
}

func (l *latencies) report(b *testing.B) {
	var busy time.Duration // timed work only: events/s of one lane, sequentially
	for _, d := range l.d {
		busy += d
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	if len(l.d) == 0 {
		return
	}
	b.ReportMetric(float64(l.d[len(l.d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(l.d))/busy.Seconds(), "events/s")
}

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
	lane := parking.NewLane(cam, allow, accessctl.Discard, parking.WithDirection(accessctl.DirectionIn))
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
	lat := newLatencies(b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		car := parkingsim.Car{Plate: "京A" + strconv.Itoa(i)} // a new car each time: no duplicates
		t0 := time.Now()
		if err := sim.Arrive(ctx, car); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(t0))
		b.StopTimer()
		sim.DriveThrough(ctx) // the barrier closes behind the car
		b.StartTimer()
	}
	lat.report(b)
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
	lat := newLatencies(b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := cam.OperateGate(ctx, parking.GateOpen); err != nil {
			b.Fatal(err)
		}
		if _, err := cam.Show(ctx, screen); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(t0))
	}
	lat.report(b)
	_ = sim
}
