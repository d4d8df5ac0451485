package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/internal/testutil"
)

// dropsAnswer applies the first PutGrant and then loses the answer, like a
// terminal whose link drops mid-command.
type dropsAnswer struct {
	ledgerOnly
	dropped atomic.Bool
}

func (d *dropsAnswer) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if err := d.ledgerOnly.PutGrant(ctx, g); err != nil {
		return err
	}
	if d.dropped.CompareAndSwap(false, true) {
		return fmt.Errorf("link dropped: %w", accessctl.ErrTimeout)
	}
	return nil
}

// A device drops mid-command: the grant was applied but the answer was lost.
// What must hold: the status says retryable (not applied, not failed for
// good), and the reconciler treats the person as possibly held — so a
// removal that follows still reaches the device, even one that cannot list.
func TestFaultDeviceDropsMidCommand(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Slow retries: the removal must come before the retry.
	r := open(t, t.TempDir(), reconcile.WithRetry(slowRetry))
	ctx := context.Background()
	f := accessctltest.NewFakeDevice("a", r)
	dev := &dropsAnswer{ledgerOnly: ledgerOnly{f}}
	require.NoError(t, r.Attach(ref("a"), dev))
	wait(t, r)
	require.NoError(t, r.Put(ctx, grant("p1", "Ann", ref("a"))))
	require.Eventually(t, func() bool { return state(t, r, "a", "p1").State == accessctl.SyncRetryableFailure }, testutil.Bound, time.Millisecond)
	_, held := f.Holds("p1")
	require.True(t, held, "the device did apply it")
	assert.Contains(t, state(t, r, "a", "p1").Message, "link dropped")

	require.NoError(t, r.Remove(ctx, accessctl.PersonRef{ID: "p1"}))
	r.Resync(ref("a")) // skip the slow backoff
	wait(t, r)
	_, held = f.Holds("p1")
	assert.False(t, held, "the unconfirmed grant was taken back")
	assert.Equal(t, accessctl.SyncRemoved, state(t, r, "a", "p1").State)
	closeR(t, r)
}

// Reconnect storm: 1,000 terminals go offline and come back at once. What
// must hold: every terminal is resynced, the ones that lost their users get
// them back, and nothing is left pending.
func TestFaultReconnectStorm(t *testing.T) {
	defer goleak.VerifyNone(t)
	const persons = 5
	n := 1000
	if testutil.RaceEnabled {
		n = 250 // full scale without -race (make unit runs it)
	}
	r := open(t, t.TempDir())
	ctx := context.Background()
	start := time.Now()
	fakes := make([]*accessctltest.FakeDevice, n)
	for i := range fakes {
		fakes[i] = accessctltest.NewFakeDevice(fmt.Sprintf("t%04d", i), r)
		require.NoError(t, r.Attach(ref(fakes[i].ID()), fakes[i]))
	}
	for p := range persons {
		devs := make([]accessctl.DeviceRef, n)
		for i := range devs {
			devs[i] = ref(fakes[i].ID())
		}
		require.NoError(t, r.Put(ctx, grant(fmt.Sprint("p", p), "N", devs...)))
	}
	wait(t, r)
	t.Logf("initial sync %v", time.Since(start))
	before := r.Stats()

	var wg sync.WaitGroup
	for i, f := range fakes {
		wg.Go(func() {
			assert.NoError(t, f.SetOnline(ctx, false))
			if i%10 == 0 { // a tenth were reset while away
				assert.NoError(t, f.SetOnline(ctx, true))
				for p := range persons {
					assert.NoError(t, f.RemoveGrant(ctx, accessctl.PersonRef{ID: fmt.Sprint("p", p)}))
				}
				assert.NoError(t, f.SetOnline(ctx, false))
			}
		})
	}
	testutil.Wait(t, &wg, "devices")
	for _, f := range fakes {
		wg.Go(func() { assert.NoError(t, f.SetOnline(ctx, true)) })
	}
	testutil.Wait(t, &wg, "devices")
	t.Logf("storm %v", time.Since(start))
	wait(t, r)
	t.Logf("resynced %v commits=%d", time.Since(start), r.Stats().Commits)
	for _, f := range fakes {
		refs, err := f.ListGrants(ctx)
		require.NoError(t, err)
		require.Len(t, refs, persons, f.ID())
	}
	after := r.Stats()
	assert.Equal(t, before.Puts+uint64(n/10*persons), after.Puts, "only what was lost is pushed again")
	assert.GreaterOrEqual(t, after.Resyncs-before.Resyncs, uint64(n))
	assert.Equal(t, n*persons, after.States[accessctl.SyncApplied])
	closeR(t, r)
}
