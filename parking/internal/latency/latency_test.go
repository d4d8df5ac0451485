package latency

import (
	"testing"
	"time"
)

func BenchmarkRecorder(b *testing.B) {
	var r Recorder
	b.ReportAllocs()
	for b.Loop() {
		r.Add(time.Microsecond)
	}
	r.Report(b)
}

func TestEmptyRecorderReportsNothing(t *testing.T) {
	var r Recorder
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
		}
		r.Report(b)
	})
	if len(res.Extra) != 0 {
		t.Fatalf("extra metrics %v from an empty recorder", res.Extra)
	}
}
