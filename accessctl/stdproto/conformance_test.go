package stdproto_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/accessctl/store"
)

func fixture(t *testing.T) accessctltest.Fixture {
	sink := accessctltest.NewSink()
	db, err := store.Open(t.TempDir())
	require.NoError(t, err)
	// 400 ms of silence is offline in the fast options; on a loaded
	// machine eight concurrent syncs can delay a keepalive that long.
	newEdge := func() *stdproto.Edge {
		return stdproto.NewEdge(append(fastEdgeOptions(sink), stdproto.WithOfflineAfter(1500*time.Millisecond), stdproto.WithLedger(db.Ledger()))...)
	}
	edge := newEdge()
	// The terminal keeps its edge address across a restart of the edge.
	front := &swappable{}
	front.cur.Store(edge)
	srv := httptest.NewServer(front)
	t.Cleanup(func() {
		srv.Close()
		_ = front.cur.Load().Close()
		_ = db.Close()
	})
	r := &rig{edge: edge, srv: srv}
	sim, dev := r.terminal(t, "T-CONF-01")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	restart := func() accessctl.PermissionSync {
		old := front.cur.Swap(nil)
		require.NoError(t, old.Close())
		next := newEdge()
		front.cur.Store(next)
		require.NoError(t, next.Provision(stdproto.TerminalConfig{SN: sim.SN(), Addr: sim.Addr()}))
		d, err := next.Terminal(sim.SN())
		require.NoError(t, err)
		waitOnline(t, d, true)
		return d
	}
	// The edge's ledger is a store on disk: a restarted edge still knows
	// which cards it pushed (the terminal cannot list them).
	return accessctltest.Fixture{
		Device:     dev,
		KeepsState: true,
		Restart:    restart,
		Disconnect: func() { require.NoError(t, sim.Pause()) },
		Reconnect: func() {
			require.NoError(t, sim.Resume())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, sim.WaitConnected(ctx))
			waitOnline(t, dev, true)
		},
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{
				Person: accessctl.PersonRef{ID: id}, Name: "name-" + id,
				Credentials: []accessctl.Credential{confCredential(accessctl.CredFace, id), confCredential(accessctl.CredCard, id)},
			}
		},
		CredentialKinds: []accessctl.CredentialKind{accessctl.CredFace, accessctl.CredCard, accessctl.CredBLECard},
		Credential:      confCredential,
		// A card left on the terminal is held too: only the ledger tells a
		// restarted edge which cards to delete.
		Holds: func(id string) (string, bool) {
			if f, ok := sim.Face(id); ok {
				return f.UserName, true
			}
			_, card := sim.Card(confCredential(accessctl.CredCard, id).Value)
			_, ble := sim.BLECard(confCredential(accessctl.CredBLECard, id).Value)
			return "", card || ble
		},
		DoorOpens: sim.DoorOpens,
		TriggerPass: func(id string) {
			wg.Go(func() { // a terminal sends again until it is told success
				for range 100 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := sim.PassFace(ctx, id, 0.9)
					cancel()
					if err == nil {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		},
		Sink: sink,
	}
}

func confCredential(k accessctl.CredentialKind, id string) accessctl.Credential {
	if k == accessctl.CredFace {
		return accessctl.Credential{Kind: k, Face: &accessctl.Image{Data: stdprototest.Photo(id)}}
	}
	return accessctl.Credential{Kind: k, Value: fmt.Sprint(len(id)*1000003 + int(k[0]))}
}

func TestConformanceDevice(t *testing.T)         { accessctltest.TestDevice(t, fixture) }
func TestConformancePermissionSync(t *testing.T) { accessctltest.TestPermissionSync(t, fixture) }
func TestConformanceEvents(t *testing.T)         { accessctltest.TestEvents(t, fixture) }

var _ accessctl.Driver = (*stdproto.Edge)(nil)

// The protocol carries no event id: a terminal's resend of a refused report
// is delivered under the refused event's id, while the same card presented
// again after an accepted pass is a new event.
func TestResendKeepsTheEventID(t *testing.T) {
	sink := accessctltest.NewSink()
	edge := stdproto.NewEdge(fastEdgeOptions(sink)...)
	srv := httptest.NewServer(edge)
	t.Cleanup(func() { srv.Close(); _ = edge.Close() })
	sim, _ := (&rig{edge: edge, srv: srv}).terminal(t, "T-RESEND-1")
	ctx := ctxT(t)
	sink.RefuseNext(accessctl.KindPass, 2)
	require.Error(t, sim.PassCard(ctx, "777342461"))
	require.Error(t, sim.PassCard(ctx, "777342461"))
	require.NoError(t, sim.PassCard(ctx, "777342461"))
	require.NoError(t, sim.PassCard(ctx, "777342461"))
	var ids []string
	for _, d := range sink.Deliveries() {
		if d.Event.Kind == accessctl.KindPass {
			ids = append(ids, d.Event.ID)
		}
	}
	require.Len(t, ids, 4)
	require.Equal(t, ids[0], ids[1], "a resend keeps the id")
	require.Equal(t, ids[0], ids[2], "a resend keeps the id")
	require.NotEqual(t, ids[2], ids[3], "a new pass after an accepted one is a new event")
}

// Status events follow the rules of pass events: an online the sink refuses
// is delivered again, with its id, at the next keepalive (it used to be
// reported and lost); counted in Stats.
func TestStatusEventsAreRetried(t *testing.T) {
	sink := accessctltest.NewSink()
	sink.RefuseNext(accessctl.KindOnline, 1)
	edge := stdproto.NewEdge(fastEdgeOptions(sink)...)
	srv := httptest.NewServer(edge)
	t.Cleanup(func() { srv.Close(); _ = edge.Close() })
	(&rig{edge: edge, srv: srv}).terminal(t, "T-STATUS-1")
	require.Eventually(t, func() bool { return len(sink.Of(accessctl.KindOnline)) >= 2 }, 5*time.Second, 5*time.Millisecond)
	ds := sink.Of(accessctl.KindOnline)
	require.True(t, ds[0].Refused)
	require.False(t, ds[1].Refused)
	require.Equal(t, ds[0].Event.ID, ds[1].Event.ID)
	require.Contains(t, ds[1].Event.ID, "stdproto:T-STATUS-1/online/")
	require.Equal(t, "127.0.0.1", ds[1].Event.Status.Info.IP)
	st := edge.Stats().Delivery
	require.Equal(t, uint64(1), st.Refused)
	require.Equal(t, uint64(1), st.Retried)
	require.Zero(t, st.Dropped)
}
