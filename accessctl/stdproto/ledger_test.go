package stdproto_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/accessctl/store"
)

// swappable serves whichever edge is current, so that a terminal keeps
// its edge address across an edge "restart".
type swappable struct{ cur atomic.Pointer[stdproto.Edge] }

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := s.cur.Load(); e != nil {
		e.ServeHTTP(w, r)
		return
	}
	http.Error(w, "edge down", http.StatusServiceUnavailable)
}

// restartRig pushes a grant with a card and a Bluetooth card through one
// edge, closes it, and returns a second edge (with ledger2) to which the
// same terminal reconnected.
func restartRig(t *testing.T, ledger1, ledger2 accessctl.Ledger) (*stdprototest.Terminal, *stdproto.Terminal) {
	t.Helper()
	ctx := ctxT(t)
	front := &swappable{}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	newEdge := func(l accessctl.Ledger) *stdproto.Edge {
		e := stdproto.NewEdge(append(fastEdgeOptions(newRecorder()), stdproto.WithLedger(l))...)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	sim, err := stdprototest.Start(stdprototest.Config{SN: "LEDGER-1", Edge: srv.Listener.Addr().String(), Keepalive: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	online := func(e *stdproto.Edge) *stdproto.Terminal {
		require.NoError(t, e.Provision(stdproto.TerminalConfig{SN: sim.SN(), Addr: sim.Addr()}))
		dev, err := e.Terminal(sim.SN())
		require.NoError(t, err)
		waitOnline(t, dev, true)
		return dev
	}

	edge1 := newEdge(ledger1)
	front.cur.Store(edge1)
	dev1 := online(edge1)
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-1"}, Name: "Ann", Credentials: []accessctl.Credential{
		{Kind: accessctl.CredCard, Value: "777342461"}, {Kind: accessctl.CredBLECard, Value: "B1"}}}
	require.NoError(t, dev1.PutGrant(ctx, g))
	_, ok := sim.Card("777342461")
	require.True(t, ok, "the terminal got the card")
	_, ok = sim.BLECard("B1")
	require.True(t, ok, "the terminal got the Bluetooth card")

	// The host restarts: the first edge is gone with its memory.
	front.cur.Store(nil)
	require.NoError(t, edge1.Close())
	edge2 := newEdge(ledger2)
	front.cur.Store(edge2)
	return sim, online(edge2)
}

// What must hold: with the same store, RemoveGrant after a restart takes
// off the terminal every card the previous process pushed.
func TestLedgerRemoveAfterRestart(t *testing.T) {
	db, err := store.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	sim, dev := restartRig(t, db.Ledger(), db.Ledger())
	ctx := ctxT(t)

	g, err := dev.GetGrant(ctx, accessctl.PersonRef{ID: "p-1"})
	if err == nil { // a terminal whose face library took the person
		assert.Len(t, g.Credentials, 2, "the restarted edge knows the cards it did not push")
	}
	require.NoError(t, dev.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	_, ok := sim.Card("777342461")
	assert.False(t, ok, "the card was deleted (syncPermissions type 2)")
	_, ok = sim.BLECard("B1")
	assert.False(t, ok, "the Bluetooth card was deleted")
	persons, err := db.Ledger().Persons(ctx, accessctl.DeviceRef{Platform: stdproto.Platform, ID: sim.SN()})
	require.NoError(t, err)
	assert.Empty(t, persons, "a confirmed removal is forgotten")
}

// The default ledger lives in memory: what a restarted edge cannot remove.
func TestLedgerInMemoryIsLostOnRestart(t *testing.T) {
	sim, dev := restartRig(t, accessctl.NewMemoryLedger(), accessctl.NewMemoryLedger())
	require.NoError(t, dev.RemoveGrant(ctxT(t), accessctl.PersonRef{ID: "p-1"}))
	_, ok := sim.Card("777342461")
	assert.True(t, ok, "without a durable ledger the card stays on the terminal")
}

// A push that fails leaves the card recorded: the terminal may hold it.
func TestLedgerRecordsBeforePush(t *testing.T) {
	l := accessctl.NewMemoryLedger()
	r := newRig(t, stdproto.WithLedger(l))
	sim, dev := r.terminal(t, "LEDGER-2")
	ctx := ctxT(t)
	sim.FailWith(stdproto.CodeOther)
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-1"}, Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "42"}}}
	require.Error(t, dev.PutGrant(ctx, g))
	got, err := l.Get(ctx, accessctl.DeviceRef{Platform: stdproto.Platform, ID: "LEDGER-2"}, "p-1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "card", got[0].Kind)
	assert.Equal(t, "42", got[0].Key)

	sim.FailWith(0)
	require.NoError(t, dev.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	got, err = l.Get(ctx, accessctl.DeviceRef{Platform: stdproto.Platform, ID: "LEDGER-2"}, "p-1")
	require.NoError(t, err)
	assert.Empty(t, got)
}

// failingLedger refuses every write.
type failingLedger struct{ *accessctl.MemoryLedger }

func (failingLedger) Put(context.Context, accessctl.DeviceRef, string, []accessctl.LedgerEntry) error {
	return errors.New("disk full")
}

// A card that cannot be recorded is not pushed: the ledger is written
// first, so nothing reaches the terminal that a restart would forget.
func TestLedgerWriteFailsBeforePush(t *testing.T) {
	r := newRig(t, stdproto.WithLedger(failingLedger{accessctl.NewMemoryLedger()}))
	sim, dev := r.terminal(t, "LEDGER-3")
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-1"}, Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "42"}}}
	require.ErrorContains(t, dev.PutGrant(ctxT(t), g), "disk full")
	_, ok := sim.Card("42")
	assert.False(t, ok, "the card was not pushed")
	for _, c := range sim.Commands() {
		assert.NotEqual(t, "cardAC/syncPermissions", c)
	}
}
