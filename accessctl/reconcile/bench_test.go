package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
)

const benchDevices = 20

func benchGrants(n int) []accessctl.Grant {
	gs := make([]accessctl.Grant, n)
	for i := range gs {
		gs[i] = grant(fmt.Sprintf("p%06d", i), fmt.Sprintf("Person %d", i))
	}
	return gs
}

// BenchmarkReconcile is the reconciler's throughput, in grants (one person
// on one device) per second: the desired state of 20 simulated terminals is
// stored, diffed, pushed with the default 4 calls in flight per device,
// and every outcome recorded, until the reconciler has settled.
func BenchmarkReconcile(b *testing.B) {
	persons := max(1, b.N/benchDevices)
	gs := benchGrants(persons)
	r, err := reconcile.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	fakes := make([]*accessctltest.FakeDevice, benchDevices)
	for i := range fakes {
		fakes[i] = accessctltest.NewFakeDevice(fmt.Sprintf("t%02d", i), nil)
		if err := r.Attach(ref(fakes[i].ID()), fakes[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, f := range fakes {
		wg.Go(func() {
			if err := r.Set(ctx, ref(f.ID()), gs); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := r.Wait(wctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := r.Stats()
	if st.Puts != uint64(persons*benchDevices) {
		b.Fatalf("puts = %d, want %d", st.Puts, persons*benchDevices)
	}
	b.ReportMetric(float64(st.Puts)/b.Elapsed().Seconds(), "grants/s")
	if err := r.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDirectPutGrant is the baseline: the same grants pushed straight
// into the same fakes with the same concurrency, with no desired state, no
// diff and nothing written to disk.
func BenchmarkDirectPutGrant(b *testing.B) {
	persons := max(1, b.N/benchDevices)
	gs := benchGrants(persons)
	ctx := context.Background()
	fakes := make([]*accessctltest.FakeDevice, benchDevices)
	for i := range fakes {
		fakes[i] = accessctltest.NewFakeDevice(fmt.Sprintf("t%02d", i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, f := range fakes {
		sem := make(chan struct{}, 4)
		for _, g := range gs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := f.PutGrant(ctx, g); err != nil {
					b.Error(err)
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(persons*benchDevices)/b.Elapsed().Seconds(), "grants/s")
}
