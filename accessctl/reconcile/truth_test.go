package reconcile_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
)

func holds(t *testing.T, f *accessctltest.FakeDevice) []string {
	t.Helper()
	refs, err := f.ListGrants(context.Background())
	require.NoError(t, err)
	ids := make([]string, len(refs))
	for i, p := range refs {
		ids[i] = p.ID
	}
	return ids
}

func preload(t *testing.T, f *accessctltest.FakeDevice, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, f.PutGrant(context.Background(), grant(id, "N")))
	}
}

// statusLog records every status change, per person.
type statusLog struct {
	mu  sync.Mutex
	got map[string][]accessctl.SyncState
}

func (l *statusLog) option() reconcile.Option {
	l.got = map[string][]accessctl.SyncState{}
	return reconcile.WithOnStatus(func(st accessctl.SyncStatus) {
		l.mu.Lock()
		l.got[st.Device.ID+"/"+st.Person.ID] = append(l.got[st.Device.ID+"/"+st.Person.ID], st.State)
		l.mu.Unlock()
	})
}

func (l *statusLog) reset() {
	l.mu.Lock()
	clear(l.got)
	l.mu.Unlock()
}

func (l *statusLog) states(key string) []accessctl.SyncState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]accessctl.SyncState(nil), l.got[key]...)
}

// A terminal attached before the host loaded its grants keeps what it holds;
// once the host declares its complete desired state (Set, or Puts then
// Declare), exactly the persons nobody wants are removed.
func TestAttachNeverDeletesBeforeDeclared(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, how := range []string{"Set", "Put+Declare"} {
		t.Run(how, func(t *testing.T) {
			r := open(t, t.TempDir())
			ctx := context.Background()
			a := accessctltest.NewFakeDevice("a", r)
			preload(t, a, "p1", "p2", "p3")

			require.NoError(t, r.Attach(ref("a"), a))
			wait(t, r)
			assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, a), "attached with no desired state: nothing removed")
			assert.Zero(t, r.Stats().Removes)

			if how == "Set" {
				require.NoError(t, r.Set(ctx, ref("a"), []accessctl.Grant{grant("p1", "Ann"), grant("p2", "Bo")}))
			} else {
				require.NoError(t, r.Put(ctx, grant("p1", "Ann", ref("a"))))
				require.NoError(t, r.Put(ctx, grant("p2", "Bo", ref("a"))))
				wait(t, r)
				assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, a), "Puts alone do not declare the state complete")
				require.NoError(t, r.Declare(ctx, ref("a")))
			}
			wait(t, r)
			assert.Equal(t, []string{"p1", "p2"}, holds(t, a), "exactly the third is removed")
			assert.Equal(t, uint64(1), r.Stats().Removes)
			assert.Equal(t, accessctl.SyncRemoved, state(t, r, "a", "p3").State)
			for _, p := range []string{"p1", "p2"} {
				assert.Equal(t, accessctl.SyncApplied, state(t, r, "a", p).State, p)
			}
			closeR(t, r)
		})
	}
}

// The declaration is stored: after a restart a stranger found on the
// device is removed without declaring again, and a device never declared
// still keeps its own.
func TestDeclaredSurvivesRestart(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ctx := context.Background()
	r := open(t, dir)
	require.NoError(t, r.Put(ctx, grant("p1", "Ann", ref("a"), ref("b"))))
	require.NoError(t, r.Declare(ctx, ref("a")))
	closeR(t, r)

	a := accessctltest.NewFakeDevice("a", nil)
	b := accessctltest.NewFakeDevice("b", nil)
	preload(t, a, "stray")
	preload(t, b, "stray")
	r = open(t, dir)
	require.NoError(t, r.Attach(ref("a"), a))
	require.NoError(t, r.Attach(ref("b"), b))
	wait(t, r)
	assert.Equal(t, []string{"p1"}, holds(t, a), "declared before the restart")
	assert.Equal(t, []string{"p1", "stray"}, holds(t, b), "never declared")
	closeR(t, r)

	assert.ErrorIs(t, r.Declare(ctx, ref("a")), accessctl.ErrClosed)
	r = open(t, dir)
	assert.ErrorIs(t, r.Declare(ctx), accessctl.ErrInvalid)
	assert.ErrorIs(t, r.Declare(ctx, accessctl.DeviceRef{}), accessctl.ErrInvalid)
	closeR(t, r)
}

// sinkRecorder is the host's sink behind Watch.
type sinkRecorder struct {
	mu   sync.Mutex
	got  []accessctl.EventKind
	fail error
}

func (s *sinkRecorder) Handle(_ context.Context, e accessctl.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, e.Kind)
	return s.fail
}

func (s *sinkRecorder) kinds() []accessctl.EventKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]accessctl.EventKind(nil), s.got...)
}

func online(id string) accessctl.Event {
	return accessctl.Event{ID: id + "-up", Kind: accessctl.KindOnline, Device: ref(id)}
}

// A terminal that rebooted inside the offline window (no offline event
// ever came) and lost its users re-registers: the driver's online event,
// seen through Watch, resyncs it, and both kinds of device converge back.
// Before the event the reconciler cannot know, after it the truth wins.
func TestWatchResyncsOnReconnect(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := open(t, t.TempDir())
	ctx := context.Background()
	host := &sinkRecorder{}
	events := r.Watch(host)
	lister := accessctltest.NewFakeDevice("lister", events)
	plain := accessctltest.NewFakeDevice("plain", events)
	require.NoError(t, r.Attach(ref("lister"), lister))
	require.NoError(t, r.Attach(ref("plain"), ledgerOnly{plain}))
	for _, p := range []string{"p1", "p2", "p3"} {
		require.NoError(t, r.Put(ctx, grant(p, "N", ref("lister"), ref("plain"))))
	}
	wait(t, r)
	before := r.Stats()

	lister.Forget("p1", "p3") // rebooted and lost two
	plain.Forget()            // lost everyone
	require.NoError(t, events.Handle(ctx, online("lister")))
	require.NoError(t, events.Handle(ctx, online("plain")))
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, lister))
	assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, plain))
	for _, d := range []string{"lister", "plain"} {
		for _, p := range []string{"p1", "p2", "p3"} {
			assert.Equal(t, accessctl.SyncApplied, state(t, r, d, p).State, "%s on %s", p, d)
		}
	}
	after := r.Stats()
	assert.Equal(t, before.Puts+2+3, after.Puts, "the lister gets the two it lost, the ledger-only device all three")
	assert.Equal(t, before.Resyncs+2, after.Resyncs)
	assert.Equal(t, []accessctl.EventKind{accessctl.KindOnline, accessctl.KindOnline}, host.kinds(), "every event goes on to the host's sink")

	// The host's sink refusing is the driver's business (no ack): Watch
	// returns its error, and the reconciler still saw the event.
	host.fail = errors.New("platform down")
	plain.Forget()
	assert.ErrorContains(t, events.Handle(ctx, online("plain")), "platform down")
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, plain))
	closeR(t, r)
	assert.NoError(t, r.Watch(nil).Handle(ctx, online("plain")), "nil next discards; a closed reconciler ignores")
}

// A device that can list is believed over the ledger: after a resync a
// person missing from its list is pending again (not applied), and only
// what it lost is pushed.
func TestDeviceListBeatsLedger(t *testing.T) {
	defer goleak.VerifyNone(t)
	var log statusLog
	r := open(t, t.TempDir(), log.option())
	ctx := context.Background()
	a := accessctltest.NewFakeDevice("a", r)
	require.NoError(t, r.Attach(ref("a"), a))
	require.NoError(t, r.Set(ctx, ref("a"), []accessctl.Grant{grant("p1", "Ann"), grant("p2", "Bo")}))
	wait(t, r)
	log.reset()
	puts := r.Stats().Puts

	a.Forget("p2")
	// The list succeeds, the push that follows is refused: the status must
	// say what the device holds, not what was applied before.
	a.FailNext(nil, accessctl.Rejected("addUser", "-7", "storage full"))
	require.NoError(t, r.Handle(ctx, online("a")))
	wait(t, r)
	assert.Equal(t, []accessctl.SyncState{accessctl.SyncPending, accessctl.SyncInFlight, accessctl.SyncInvalidInput}, log.states("a/p2"))
	assert.Empty(t, log.states("a/p1"), "still held: untouched")
	_, held := a.Holds("p2")
	assert.False(t, held)
	assert.Equal(t, puts, r.Stats().Puts)

	require.NoError(t, r.Retry(ctx, ref("a"), accessctl.PersonRef{ID: "p2"}))
	wait(t, r)
	assert.Equal(t, accessctl.SyncApplied, state(t, r, "a", "p2").State)
	assert.Equal(t, puts+1, r.Stats().Puts)
	closeR(t, r)
}

// A device that cannot list but reports that it lost its users (an event
// the host picks with WithResetEvents, or Reset): its grants are pending
// again and pushed again, though the ledger said they were applied.
func TestResetEventMarksPending(t *testing.T) {
	defer goleak.VerifyNone(t)
	var log statusLog
	wiped := func(e accessctl.Event) bool {
		return e.Kind == accessctl.KindAlarm && e.Alarm != nil && e.Alarm.Type == "user_store_cleared"
	}
	r := open(t, t.TempDir(), log.option(), reconcile.WithResetEvents(wiped))
	ctx := context.Background()
	events := r.Watch(nil)
	f := accessctltest.NewFakeDevice("a", events)
	require.NoError(t, r.Attach(ref("a"), ledgerOnly{f}))
	require.NoError(t, r.Set(ctx, ref("a"), []accessctl.Grant{grant("p1", "Ann"), grant("p2", "Bo")}))
	wait(t, r)
	log.reset()

	f.Forget()
	require.NoError(t, events.Handle(ctx, accessctl.Event{Kind: accessctl.KindAlarm, Device: ref("a"), Alarm: &accessctl.Alarm{Type: "tamper"}}))
	wait(t, r)
	assert.Empty(t, holds(t, f), "another alarm is no reset")

	require.NoError(t, events.Handle(ctx, accessctl.Event{Kind: accessctl.KindAlarm, Device: ref("a"), Alarm: &accessctl.Alarm{Type: "user_store_cleared"}}))
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2"}, holds(t, f))
	for _, p := range []string{"p1", "p2"} {
		sts := log.states("a/" + p)
		require.NotEmpty(t, sts, p)
		assert.Equal(t, accessctl.SyncPending, sts[0], "%s: pending as soon as the loss is reported", p)
		assert.Equal(t, accessctl.SyncApplied, sts[len(sts)-1], p)
	}

	f.Forget("p1")
	r.Reset(ref("a"))
	r.Reset(ref("nobody")) // unknown devices are ignored
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2"}, holds(t, f))
	closeR(t, r)
}

// getterOnly reads persons back but cannot list them, like a door terminal
// with a selectUser and no user list.
type getterOnly struct{ ledgerOnly }

func (g getterOnly) GetGrant(ctx context.Context, p accessctl.PersonRef) (accessctl.Grant, error) {
	return g.f.GetGrant(ctx, p)
}

// A device that can read persons back is asked about each one on a
// resync: only what it lost is pending and pushed again, where a device
// that can say nothing gets everything again.
func TestReadBackFindsWhatWasLost(t *testing.T) {
	defer goleak.VerifyNone(t)
	var log statusLog
	r := open(t, t.TempDir(), log.option())
	ctx := context.Background()
	f := accessctltest.NewFakeDevice("a", r)
	require.NoError(t, r.Attach(ref("a"), getterOnly{ledgerOnly{f}}))
	require.NoError(t, r.Set(ctx, ref("a"), []accessctl.Grant{grant("p1", "Ann"), grant("p2", "Bo"), grant("p3", "Cy")}))
	wait(t, r)
	log.reset()
	puts := r.Stats().Puts

	f.Forget("p2")
	require.NoError(t, r.Handle(ctx, online("a")))
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, f))
	assert.Equal(t, puts+1, r.Stats().Puts, "only the lost one is pushed again")
	assert.Equal(t, []accessctl.SyncState{accessctl.SyncPending, accessctl.SyncInFlight, accessctl.SyncApplied}, log.states("a/p2"))
	assert.Empty(t, log.states("a/p1"))

	// Offline during the read-back: nothing is decided, the resync is
	// tried again when the device is back.
	f.Forget("p3")
	require.NoError(t, f.SetOnline(ctx, false))
	require.NoError(t, r.Handle(ctx, online("a")))
	require.NoError(t, f.SetOnline(ctx, true))
	wait(t, r)
	assert.Equal(t, []string{"p1", "p2", "p3"}, holds(t, f))
	assert.Equal(t, accessctl.SyncApplied, state(t, r, "a", "p3").State)
	closeR(t, r)
}
