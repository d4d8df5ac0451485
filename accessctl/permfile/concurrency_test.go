package permfile

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/menjin/menjin/accessctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// N goroutines race for a code limited to k scans: exactly k win.
func TestConsumeAdmitsExactlyK(t *testing.T) {
	for _, scope := range []string{"DEVICE", "SHARE"} {
		t.Run(scope, func(t *testing.T) {
			const n, k = 64, 17
			shared := NewMemCounter()
			st := NewStore(WithSharedCounter(shared))
			apply(t, st, fmt.Sprintf(`{"qrCodePermissionList":[{"type":1,"qrCode":"RACE","maxScanTimes":%d,"maxScanScope":%q}]}`, k, scope))
			r, ok := st.Lookup(accessctl.CredQRCode, "RACE")
			require.True(t, ok)
			var admitted atomic.Int32
			remaining := make(chan int, n*4)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range n {
				wg.Go(func() {
					<-start
					for range 4 {
						left, ok, err := st.Consume(ctx, r)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							admitted.Add(1)
							remaining <- left
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(remaining)
			assert.Equal(t, int32(k), admitted.Load())
			seen := map[int]bool{}
			for left := range remaining {
				assert.False(t, seen[left], "remaining %d reported twice", left)
				seen[left] = true
			}
			assert.Len(t, seen, k, "every remaining count from k-1 down to 0 once")
			used, err := shared.Used(ctx, "RACE")
			require.NoError(t, err)
			if scope == "SHARE" {
				assert.Equal(t, k, used, "SHARE scans land in the shared counter")
			} else {
				assert.Zero(t, used, "DEVICE scans stay local")
			}
		})
	}
}

// Two stores (two doors) with one shared counter split a SHARE budget.
func TestSharedCounterAcrossDoors(t *testing.T) {
	shared := NewMemCounter()
	doors := []*Store{NewStore(WithSharedCounter(shared)), NewStore(WithSharedCounter(shared))}
	file := `{"qrCodePermissionList":[{"type":1,"qrCode":"S","maxScanTimes":3,"maxScanScope":"SHARE"}]}`
	for _, d := range doors {
		apply(t, d, file)
	}
	var granted int
	for i := range 6 {
		d := doors[i%2]
		r, _ := d.Lookup(accessctl.CredQRCode, "S")
		_, ok, err := d.Consume(ctx, r)
		require.NoError(t, err)
		if ok {
			granted++
		}
	}
	assert.Equal(t, 3, granted)
}

// Readers during Apply see the old state or the new one, never a mix: each
// file moves every key from one generation to the next at once.
func TestApplyIsAtomic(t *testing.T) {
	const keys = 200
	gen := func(g int) string {
		var b strings.Builder
		b.WriteString(`{"qrCodePermissionList":[`)
		for i := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":2,"qrCode":"G%d-%d"},{"type":1,"qrCode":"G%d-%d","maxScanTimes":%d}`, g-1, i, g, i, g)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	st := NewStore()
	apply(t, st, gen(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checks atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := st.View()
				// Find the generation from key 0, then every key must match.
				g := 0
				for cand := 1; cand <= 20; cand++ {
					if _, ok := v.Lookup(accessctl.CredQRCode, fmt.Sprintf("G%d-0", cand)); ok {
						g = cand
						break
					}
				}
				if g == 0 {
					t.Error("no generation visible")
					return
				}
				for i := range keys {
					r, ok := v.Lookup(accessctl.CredQRCode, fmt.Sprintf("G%d-%d", g, i))
					if !ok || r.MaxScans != g {
						t.Errorf("generation %d half applied at key %d", g, i)
						return
					}
				}
				checks.Add(1)
			}
		})
	}
	for g := 2; g <= 20; g++ {
		apply(t, st, gen(g))
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, keys, st.Len(accessctl.CredQRCode))
	assert.Positive(t, checks.Load())
}
