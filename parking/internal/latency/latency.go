// Package latency records one duration per benchmark iteration and reports
// the percentiles and throughput the parking benchmarks print.
package latency

import (
	"sort"
	"testing"
	"time"
)

// Recorder keeps durations. The zero value is ready to use.
type Recorder struct{ d []time.Duration }

// Add records one iteration.
func (r *Recorder) Add(d time.Duration) { r.d = append(r.d, d) }

// Report adds p50-ns, p99-ns and events/s (over the recorded work only:
// the throughput of one lane, one car after another) to b.
func (r *Recorder) Report(b *testing.B) {
	if len(r.d) == 0 {
		return
	}
	var busy time.Duration
	for _, x := range r.d {
		busy += x
	}
	s := append([]time.Duration(nil), r.d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	b.ReportMetric(float64(s[len(s)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(s[len(s)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(s))/busy.Seconds(), "events/s")
}
