package permfile

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/menjin/menjin/accessctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestOpenFileSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perm.json")
	st, err := OpenFile(path)
	require.NoError(t, err)
	assert.Zero(t, st.Len(accessctl.CredQRCode), "no file yet: empty")
	apply(t, st, specFile)
	apply(t, st, edgeCardFile)
	apply(t, st, `{"qrCodePermissionList":[{"type":1,"qrCode":"U","userId":"u-1","note":"x"}]}`)

	again, err := OpenFile(path)
	require.NoError(t, err)
	for _, kind := range []accessctl.CredentialKind{accessctl.CredQRCode, accessctl.CredCard} {
		assert.ElementsMatch(t, st.Records(kind), again.Records(kind), kind)
	}
	u, _ := again.Lookup(accessctl.CredQRCode, "U")
	assert.True(t, u.Start.IsZero() && u.End.IsZero(), "unbounded stays unbounded")

	// A state that cannot be saved is not applied (its directory is gone).
	lost, err := OpenFile(filepath.Join(t.TempDir(), "gone", "perm.json"))
	require.NoError(t, err)
	_, err = lost.Apply(ctx, parse(t, specFile))
	require.Error(t, err)
	assert.Zero(t, lost.Len(accessctl.CredQRCode), "unchanged after a failed save")

	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"records":[{"kind":"nope","key":"x"}]}`), 0o600))
	_, err = OpenFile(path)
	require.ErrorIs(t, err, ErrCorrupt)
	require.NoError(t, os.WriteFile(path, []byte(`{`), 0o600))
	_, err = OpenFile(path)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestBoltCounter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counts.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	c, err := NewBoltCounter(db, "scans")
	require.NoError(t, err)
	st := NewStore(WithCounter(c))
	apply(t, st, `{"qrCodePermissionList":[{"type":1,"qrCode":"B","maxScanTimes":5}]}`)
	r, _ := st.Lookup(accessctl.CredQRCode, "B")

	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, ok, err := st.Consume(ctx, r); err == nil && ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(5), granted.Load())
	require.NoError(t, db.Close())

	// After a "reboot" the budget is still spent.
	db, err = bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	c, err = NewBoltCounter(db, "scans")
	require.NoError(t, err)
	used, err := c.Used(ctx, "B")
	require.NoError(t, err)
	assert.Equal(t, 5, used)
	_, ok, err := NewStore(WithCounter(c)).Consume(ctx, r)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, c.Reset(ctx, "B"))
	used, _ = c.Used(ctx, "B")
	assert.Zero(t, used)
	_, err = NewBoltCounter(db, "")
	assert.Error(t, err)
}
