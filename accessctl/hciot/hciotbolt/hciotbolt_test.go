package hciotbolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciotbolt"
	"github.com/menjin/menjin/accessctl/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dir string) *bbolt.DB {
	db, err := store.Open(dir)
	require.NoError(t, err)
	return db.Bolt()
}

// What must hold: the bolt ledger answers exactly as the in-memory one for
// any sequence of puts and deletes, and keeps its answers across a reopen.
func TestLedgerMatchesMemLedgerAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	bl, err := hciotbolt.NewLedger(db)
	require.NoError(t, err)
	mem := &hciot.MemLedger{}
	rng := rand.New(rand.NewPCG(1, 2))
	persons := []string{"1", "10", "2", "p\u4eba"}
	devices := []string{"d1", "d10", "d2"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 400; i++ {
		p, d := persons[rng.IntN(len(persons))], devices[rng.IntN(len(devices))]
		if rng.IntN(3) == 0 {
			require.NoError(t, bl.Delete(ctx, p, d))
			require.NoError(t, mem.Delete(ctx, p, d))
			continue
		}
		e := hciot.LedgerEntry{Person: p, Device: d, Name: "n" + p, Community: "c", TaskID: fmt.Sprint(i), At: at, Unsure: i%5 == 0}
		require.NoError(t, bl.Put(ctx, e))
		require.NoError(t, mem.Put(ctx, e))
	}
	check := func(l hciot.Ledger) {
		for _, p := range persons {
			want, _ := mem.ByPerson(ctx, p)
			got, err := l.ByPerson(ctx, p)
			require.NoError(t, err)
			assert.Equal(t, want, got, "ByPerson(%s)", p)
		}
		for _, d := range devices {
			want, _ := mem.ByDevice(ctx, d)
			got, err := l.ByDevice(ctx, d)
			require.NoError(t, err)
			assert.Equal(t, want, got, "ByDevice(%s)", d)
		}
	}
	check(bl)
	require.NoError(t, bl.Delete(ctx, "absent", "d1"), "deleting an absent pair is not an error")
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	bl, err = hciotbolt.NewLedger(db)
	require.NoError(t, err)
	check(bl)
}

// What must hold: machines saved by one bridge are registered again, with
// their community, driver and direction, by the next one.
func TestMachinesSaveListRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	ms, err := hciotbolt.NewMachines(db)
	require.NoError(t, err)

	reg := &accessctl.Registry{}
	var opened []accessctl.DeviceConfig
	reg.Register("fake", accessctl.DriverFunc(func(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
		opened = append(opened, cfg)
		return accessctltest.NewFakeDevice(cfg.ID, nil), nil
	}))
	newServer := func() *hciot.Server {
		srv, err := hciot.NewServer(hciot.WithApp("a", "s"), hciot.WithRegistry(reg), hciot.WithDriver("1", "fake"))
		require.NoError(t, err)
		return srv
	}
	srv := newServer()
	for i := 1; i <= 3; i++ {
		require.NoError(t, srv.RegisterMachine(ctx, hciot.Machine{Code: fmt.Sprintf("M%d", i), ExtID: fmt.Sprintf("x%d", i),
			Community: "C1", HmID: "1", DirectionCd: "3307", LocationType: "1000"}))
	}
	require.NoError(t, ms.Save(srv.Machines()))
	require.NoError(t, srv.Close())
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	ms, err = hciotbolt.NewMachines(db)
	require.NoError(t, err)
	got, err := ms.List()
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "M1", got[0].Code)

	opened = nil
	srv = newServer()
	defer srv.Close()
	require.NoError(t, ms.Restore(ctx, srv))
	require.Len(t, opened, 3)
	m, ok := srv.Machine("M2")
	require.True(t, ok)
	assert.Equal(t, "C1", m.Community)
	assert.Equal(t, "fake", m.Driver)
	assert.Equal(t, accessctl.DirectionOut, m.Direction)

	require.NoError(t, ms.Save(nil))
	got, err = ms.List()
	require.NoError(t, err)
	assert.Empty(t, got, "saving none forgets them all")
}
