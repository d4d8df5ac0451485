package stdproto_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// reconcileRig is an edge whose events pass through a reconciler's Watch,
// with one simulated terminal online.
func reconcileRig(t *testing.T, sn string) (*reconcile.Reconciler, *stdprototest.Terminal, *stdproto.Terminal, accessctl.DeviceRef) {
	t.Helper()
	rc, err := reconcile.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { // registered first: runs after the edge is closed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Close(ctx)
	})
	edge := stdproto.NewEdge(append(fastEdgeOptions(rc.Watch(accessctltest.NewSink())), stdproto.WithOfflineAfter(1500*time.Millisecond))...)
	srv := httptest.NewServer(edge)
	t.Cleanup(func() { srv.Close(); _ = edge.Close() })
	sim, dev := (&rig{edge: edge, srv: srv}).terminal(t, sn)
	st, err := dev.Status(ctxT(t))
	require.NoError(t, err)
	return rc, sim, dev, st.Device
}

func faceGrant(id string) accessctl.Grant {
	return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "name-" + id,
		Credentials: []accessctl.Credential{confCredential(accessctl.CredFace, id)}}
}

func faceIDs(t *testing.T, dev *stdproto.Terminal) []string {
	t.Helper()
	refs, err := dev.ListGrants(ctxT(t))
	require.NoError(t, err)
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// A terminal factory-reset and rebooted faster than the edge's offline
// window (it connects again before it was missed) converges back to the
// desired state: its fresh /connect is an online event, and the
// reconciler, watching the edge's events, lists the terminal and pushes
// what it lost.
func TestReconcileRestoresAResetTerminal(t *testing.T) {
	rc, sim, dev, ref := reconcileRig(t, "T-RC-RESET")
	require.NoError(t, rc.Attach(ref, dev))
	require.NoError(t, rc.Set(ctxT(t), ref, []accessctl.Grant{faceGrant("p-1"), faceGrant("p-2")}))
	require.Eventually(t, func() bool { return sim.FaceCount() == 2 }, 10*time.Second, 10*time.Millisecond, "the desired persons reach the terminal")
	require.NoError(t, rc.Wait(ctxT(t)))

	sim.Reset() // the terminal's stores are wiped
	require.NoError(t, sim.Pause())
	require.NoError(t, sim.Resume())
	require.Zero(t, sim.FaceCount())

	require.Eventually(t, func() bool { return sim.FaceCount() == 2 }, 10*time.Second, 10*time.Millisecond,
		"the reconciler puts the persons back after the terminal's reset")
	for _, id := range []string{"p-1", "p-2"} {
		f, ok := sim.Face(id)
		require.True(t, ok)
		assert.Equal(t, "name-"+id, f.UserName)
	}
}

// A terminal that already holds three persons, attached before the host
// declared anything, keeps all three; once the host declares two, exactly
// the third is removed.
func TestReconcileRemovesOnlyUndeclaredPersons(t *testing.T) {
	rc, sim, dev, ref := reconcileRig(t, "T-RC-PRELOAD")
	for _, id := range []string{"p-1", "p-2", "p-3"} {
		require.NoError(t, dev.PutGrant(ctxT(t), faceGrant(id)))
	}
	require.NoError(t, rc.Attach(ref, dev))
	require.NoError(t, rc.Wait(ctxT(t)))
	assert.Equal(t, []string{"p-1", "p-2", "p-3"}, faceIDs(t, dev), "nothing is removed before the host declared the device")

	require.NoError(t, rc.Set(ctxT(t), ref, []accessctl.Grant{faceGrant("p-1"), faceGrant("p-2")}))
	require.Eventually(t, func() bool { _, ok := sim.Face("p-3"); return !ok }, 10*time.Second, 10*time.Millisecond, "the undeclared person is removed")
	require.NoError(t, rc.Wait(ctxT(t)))
	assert.Equal(t, []string{"p-1", "p-2"}, faceIDs(t, dev))
}
