package linkkit_test

import (
	"context"
	"errors"
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
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/menjin/menjin/transport/thingmodel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.Watchdog(m, 10*time.Minute)) }

var triple = thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "secretA0123456789abcdef"}

// The spec's sample key (PROTOCOL.md §2.1).
const sampleKey = qrcodetest.SampleKey

type rig struct {
	hub    *linkkit.Hub
	files  *linkkit.FileServer
	url    string
	events chan accessctl.Event
	sinkMu sync.Mutex
	sinkFn func(accessctl.Event) error
}

func newRig(t *testing.T, opts ...linkkit.Option) *rig {
	t.Helper()
	r := &rig{events: make(chan accessctl.Event, 64)}
	fs, err := linkkit.ServeFiles("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = fs.Close() })
	r.files = fs
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		r.sinkMu.Lock()
		fn := r.sinkFn
		r.sinkMu.Unlock()
		if fn != nil {
			if err := fn(e); err != nil {
				return err
			}
		}
		r.events <- e
		return nil
	})
	opts = append([]linkkit.Option{
		linkkit.WithHostOptions(thingmodel.WithSecrets(thingmodel.Secrets{triple.Key(): triple.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0"))),
		linkkit.WithSink(sink), linkkit.WithFileServer(fs), linkkit.WithSyncTimeout(5 * time.Second),
		linkkit.WithEventOptions(linkkit.EventOptions{Platform: "edge"}),
	}, opts...)
	hub, err := linkkit.NewHub(context.Background(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hub.Close() })
	r.hub = hub
	r.url = hub.Host().Broker().URL()
	return r
}

// dial connects a door client in plain-QR mode (codes compared as read);
// TestEncryptedQRCodeEndToEnd covers the RSA mode.
func (r *rig) dial(t *testing.T, opts ...linkkit.DoorOption) *linkkit.DoorClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]linkkit.DoorOption{linkkit.WithCheckerOptions(passcheck.WithPlainQR(), passcheck.WithDebounce(0))}, opts...)
	d, err := linkkit.DialDoor(ctx, r.url, triple, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, r.hub.Host().WaitOnline(ctx, triple.Key()))
	return d
}

func (r *rig) nextPass(t *testing.T) accessctl.Event {
	t.Helper()
	for {
		select {
		case e := <-r.events:
			if e.Kind == accessctl.KindPass {
				return e
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pass event")
		}
	}
}

func grant(id string, qr string) accessctl.Grant {
	return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: id,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: qr}}}
}

// The accessctl conformance suites, against the simulated door.
func TestConformance(t *testing.T) {
	mk := func(t *testing.T) accessctltest.Fixture {
		sink := accessctltest.NewSink()
		db, err := store.Open(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() }) // registered first: runs after the hubs closed
		ledger := linkkit.WithLedger(db.Ledger())
		held := permfile.NewStore() // the door's permissions outlive its connection
		r := newRig(t, linkkit.WithSink(sink), ledger)
		var mu sync.Mutex
		sim := r.dial(t, linkkit.WithStore(held))
		t.Cleanup(func() { mu.Lock(); defer mu.Unlock(); _ = sim.Close() })
		dev := r.hub.Door(triple.Key())
		current := func() *linkkit.DoorClient { mu.Lock(); defer mu.Unlock(); return sim }
		var wg sync.WaitGroup
		t.Cleanup(wg.Wait)
		// The hub's ledger is a store on disk: a door cannot list what it
		// holds, so a restarted hub deletes what the ledger says it sent.
		restart := func() accessctl.PermissionSync {
			mu.Lock()
			defer mu.Unlock()
			_ = sim.Close()
			require.NoError(t, r.hub.Close())
			r = newRig(t, linkkit.WithSink(sink), ledger)
			sim = r.dial(t, linkkit.WithStore(held))
			return r.hub.Door(triple.Key())
		}
		return accessctltest.Fixture{
			Device:     dev,
			KeepsState: true,
			Restart:    restart,
			Disconnect: func() {
				mu.Lock()
				defer mu.Unlock()
				_ = sim.Close()
			},
			Reconnect: func() {
				mu.Lock()
				defer mu.Unlock()
				sim = r.dial(t, linkkit.WithStore(held))
			},
			Grant:           func(id string) accessctl.Grant { return grant(id, "QR-"+id) },
			CredentialKinds: []accessctl.CredentialKind{accessctl.CredQRCode, accessctl.CredCard, accessctl.CredBLECard, accessctl.CredPassword},
			Credential: func(k accessctl.CredentialKind, id string) accessctl.Credential {
				return accessctl.Credential{Kind: k, Value: fmt.Sprintf("%d", 100000+len(id)*7919+int(k[0]))}
			},
			Holds: func(id string) (string, bool) {
				for _, k := range []accessctl.CredentialKind{accessctl.CredQRCode, accessctl.CredCard, accessctl.CredBLECard, accessctl.CredPassword} {
					for _, rec := range current().Store().Records(k) {
						if rec.UserID == id {
							return "", true
						}
					}
				}
				return "", false
			},
			NoNames:   true, // a permission file carries credentials, not names
			DoorOpens: func() int { return current().Opens() },
			TriggerPass: func(id string) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, dev.PutGrant(ctx, grant(id, "QR-"+id)))
				wg.Go(func() { // the door keeps an event the hub refused and posts it again
					ctx := context.Background()
					o, err := current().Scan(ctx, "QR-"+id)
					for i := 0; err != nil && o.Event != nil && i < 100; i++ {
						time.Sleep(20 * time.Millisecond)
						err = current().Repost(ctx, *o.Event)
					}
				})
			},
			Sink: sink,
		}
	}
	accessctltest.TestDevice(t, mk)
	accessctltest.TestPermissionSync(t, mk)
	accessctltest.TestEvents(t, mk)
}

func keyOf(d *linkkit.DoorClient) string {
	if k := d.Checker().Key(); k != nil {
		return k.String()
	}
	return ""
}

func TestPermissionSyncDeliversFiles(t *testing.T) {
	r := newRig(t)
	sim := r.dial(t)
	d := r.hub.Door(triple.Key())
	ctx := context.Background()
	from, to := time.UnixMilli(1568270392000), time.UnixMilli(4102444800000)

	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-1"}, ValidFrom: &from, ValidTo: &to,
		Credentials: []accessctl.Credential{
			{Kind: accessctl.CredQRCode, Value: "ALIF24DD9END8CD3", QR: &accessctl.QRLimits{MaxScans: 2, Scope: accessctl.ScopeShare}},
			{Kind: accessctl.CredCard, Value: "f47b0ba2"},
		}}
	require.NoError(t, d.PutGrant(ctx, g))
	rec, ok := sim.Store().Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	require.True(t, ok)
	assert.Equal(t, from, rec.Start)
	assert.Equal(t, to, rec.End)
	assert.Equal(t, 2, rec.MaxScans)
	assert.Equal(t, accessctl.ScopeShare, rec.Scope)
	assert.Equal(t, "p-1", rec.UserID)
	_, ok = sim.Store().Lookup(accessctl.CredCard, "F47B0BA2")
	assert.True(t, ok, "card numbers travel normalised")
	last := d.LastSync()
	assert.NoError(t, last.Err)
	assert.Equal(t, 2, last.Entries)
	assert.Equal(t, 1, last.Downloads, "the door fetched the file before it replied")
	assert.Equal(t, 2, sim.SyncStatus().Report.Inserted)

	// Putting the grant again without the card deletes the card only.
	g.Credentials = g.Credentials[:1]
	require.NoError(t, d.PutGrant(ctx, g))
	_, ok = sim.Store().Lookup(accessctl.CredCard, "F47B0BA2")
	assert.False(t, ok)
	_, ok = sim.Store().Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	assert.True(t, ok)

	// Two scans pass, the third is used up; pass events carry the person.
	for i, want := range []int{0, 0, passcheck.CodeQRUsedUp} {
		o, err := sim.Scan(ctx, "ALIF24DD9END8CD3")
		require.NoError(t, err)
		require.Equal(t, want, o.Decision.Result.Code, i)
		ev := r.nextPass(t)
		assert.Equal(t, want, ev.Pass.Result.Code)
		assert.Equal(t, want == 0, ev.Pass.Result.Granted)
		assert.Equal(t, passcheck.Message(want), ev.Pass.Result.Message)
		require.NotNil(t, ev.Pass.Person)
		assert.Equal(t, "p-1", ev.Pass.Person.ID)
		assert.Equal(t, "a1DoorPK001/door-a", ev.Device.ID)
		if want == 0 {
			require.NotNil(t, ev.Pass.RemainingScans)
			assert.Equal(t, 1-i, *ev.Pass.RemainingScans)
		}
	}

	syncs := sim.SyncStatus().Syncs
	require.NoError(t, d.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	assert.Equal(t, 0, sim.Store().Len(accessctl.CredQRCode))
	require.NoError(t, d.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}), "removing an absent person succeeds")
	assert.Equal(t, syncs+1, sim.SyncStatus().Syncs, "and sends nothing")

	o, err := sim.Scan(ctx, "ALIF24DD9END8CD3")
	require.NoError(t, err)
	assert.Equal(t, passcheck.CodeQRUnknown, o.Decision.Result.Code)
	assert.Equal(t, "QR code does not exist", r.nextPass(t).Pass.Result.Message)

	// Cards and passwords decide with their own codes.
	require.NoError(t, d.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "p-4"}, ValidTo: &from,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "777342461"}, {Kind: accessctl.CredPassword, Value: "246810"}}}))
	o, err = sim.Present(ctx, accessctl.Credential{Kind: accessctl.CredCard, Value: "777342461"})
	require.NoError(t, err)
	assert.Equal(t, passcheck.CodeCardExpired, o.Decision.Result.Code)
	assert.Equal(t, accessctl.MethodCard, r.nextPass(t).Pass.Method)
	o, err = sim.Present(ctx, accessctl.Credential{Kind: accessctl.CredPassword, Value: "246810"})
	require.NoError(t, err)
	assert.Equal(t, passcheck.CodePasswordExpired, o.Decision.Result.Code)
	pw := r.nextPass(t)
	assert.Equal(t, accessctl.MethodPassword, pw.Pass.Method)
	assert.Empty(t, pw.Pass.Credential, "passwords never reach the sink by default")

	// A deny grant for a held person removes them.
	require.NoError(t, d.PutGrant(ctx, grant("p-2", "Q2")))
	deny := grant("p-2", "Q2")
	deny.Policy = accessctl.PolicyDeny
	require.NoError(t, d.PutGrant(ctx, deny))
	_, ok = sim.Store().Lookup(accessctl.CredQRCode, "Q2")
	assert.False(t, ok)

	// Faces alone cannot travel in the file.
	err = d.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "p-3"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{URL: "http://x"}}}})
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
}

// The platform's encrypted QR codes end to end: the host pushes the public
// key, grants the code; the door verifies the RSA QR text and opens.
func TestEncryptedQRCodeEndToEnd(t *testing.T) {
	r := newRig(t, linkkit.WithRSAPublicKey(qrcodetest.TestKey))
	var opened atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sim, err := linkkit.DialDoor(ctx, r.url, triple, linkkit.WithCheckerOptions(passcheck.WithDebounce(0)),
		linkkit.WithLock(func(context.Context) error { opened.Add(1); return nil }))
	require.NoError(t, err)
	defer sim.Close()
	require.Eventually(t, func() bool { return keyOf(sim) == qrcodetest.TestKey }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, r.hub.Door(triple.Key()).PutGrant(ctx, grant("bob", "TESTCODE0000001")))

	o, err := sim.Scan(ctx, qrcodetest.T1) // TESTCODE0000001, expiring in 2100
	require.NoError(t, err)
	assert.True(t, o.Decision.Allow)
	ev := r.nextPass(t)
	assert.Equal(t, "TESTCODE0000001", ev.Pass.Credential, "the event carries the decoded code, not the 88 characters")
	assert.Equal(t, "bob", ev.Pass.Person.ID)
	assert.Equal(t, int32(1), opened.Load(), "a granted pass drives the lock")

	o, err = sim.Scan(ctx, qrcodetest.BitFlipped)
	require.NoError(t, err)
	assert.False(t, o.Decision.Allow)
	assert.Equal(t, int32(1), opened.Load())
}

func TestPermissionSyncFailures(t *testing.T) {
	// A URL that expires before the door fetches it: the door's download
	// gets 404 and nothing is applied; the host gets a typed rejection.
	fs, err := linkkit.ServeFiles("127.0.0.1:0", "", linkkit.WithFileTTL(time.Nanosecond))
	require.NoError(t, err)
	defer fs.Close()
	r := newRig(t, linkkit.WithFileServer(fs))
	sim := r.dial(t)
	d := r.hub.Door(triple.Key())
	ctx := context.Background()
	err = d.PutGrant(ctx, grant("p-1", "Q1"))
	require.ErrorIs(t, err, accessctl.ErrRejected)
	var re *accessctl.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "syncPermissions", re.Op)
	assert.Contains(t, re.Message, "404")
	assert.ErrorIs(t, d.LastSync().Err, accessctl.ErrRejected)
	assert.Equal(t, 0, sim.Store().Len(accessctl.CredQRCode))
	assert.Error(t, sim.SyncStatus().Err)

	// An oversized file: the file server refuses to publish it.
	small, err := linkkit.ServeFiles("127.0.0.1:0", "", linkkit.WithMaxFileSize(64))
	require.NoError(t, err)
	defer small.Close()
	r4 := newRig(t, linkkit.WithFileServer(small))
	r4.dial(t)
	big := grant("p-9", "Q9")
	for i := range 10 {
		big.Credentials = append(big.Credentials, accessctl.Credential{Kind: accessctl.CredQRCode, Value: fmt.Sprintf("CODE-%02d", i)})
	}
	assert.ErrorIs(t, r4.hub.Door(triple.Key()).PutGrant(ctx, big), linkkit.ErrFileTooLarge)

	// A door that never answers: ErrTimeout, bounded by the sync timeout.
	r2 := newRig(t, linkkit.WithSyncTimeout(200*time.Millisecond))
	c, err := thingmodel.Dial(ctx, r2.url, triple, thingmodel.WithService(linkkit.ServiceSyncPermissions,
		func(ctx context.Context, _ *thingmodel.Request) (any, error) { <-ctx.Done(); return nil, ctx.Err() }))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, r2.hub.Host().WaitOnline(ctx, triple.Key()))
	start := time.Now()
	err = r2.hub.Door(triple.Key()).PutGrant(ctx, grant("p-1", "Q1"))
	require.ErrorIs(t, err, accessctl.ErrTimeout)
	assert.Less(t, time.Since(start), 3*time.Second)

	// No file server configured.
	r3 := newRig(t)
	hub, err := linkkit.NewHub(ctx, linkkit.WithHostOptions(thingmodel.WithEmbeddedBroker(r3.hub.Host().Broker())))
	require.NoError(t, err)
	defer hub.Close()
	r3.dial(t)
	require.NoError(t, hub.Host().WaitOnline(ctx, triple.Key()))
	assert.ErrorIs(t, hub.Door(triple.Key()).PutGrant(ctx, grant("p-1", "Q1")), accessctl.ErrUnsupported)
}

func TestRSAPublicKeyPushedWhenOnline(t *testing.T) {
	r := newRig(t, linkkit.WithRSAPublicKey(sampleKey))
	sim := r.dial(t)
	d := r.hub.Door(triple.Key())
	require.Eventually(t, func() bool { return keyOf(sim) == sampleKey }, 10*time.Second, 5*time.Millisecond)
	// The door reports the accepted key back; the hub shows it in Status.
	require.Eventually(t, func() bool {
		st, err := d.Status(context.Background())
		return err == nil && st.Info.Extra["RSAPublicKey"] == sampleKey
	}, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return r.hub.Stats().KeyPushes == 1 }, 5*time.Second, 5*time.Millisecond)

	// After a reconnect the key is pushed again.
	require.NoError(t, sim.Close())
	sim2 := r.dial(t)
	require.Eventually(t, func() bool { return keyOf(sim2) == sampleKey }, 10*time.Second, 5*time.Millisecond)
	// A key that does not parse is refused and the old one stays.
	err := d.SetRSAPublicKey(context.Background(), "not a key")
	require.ErrorIs(t, err, accessctl.ErrRejected)
	assert.Equal(t, sampleKey, keyOf(sim2))
	require.NoError(t, d.SetRSAPublicKey(context.Background(), qrcodetest.TestKey))
	assert.Equal(t, qrcodetest.TestKey, keyOf(sim2))
}

func TestPassEventNotLostWhenSinkFails(t *testing.T) {
	r := newRig(t)
	sim := r.dial(t)
	d := r.hub.Door(triple.Key())
	ctx := context.Background()
	require.NoError(t, d.PutGrant(ctx, grant("p-1", "Q1")))
	r.sinkMu.Lock()
	r.sinkFn = func(e accessctl.Event) error {
		if e.Kind == accessctl.KindPass {
			return errors.New("outbox full")
		}
		return nil
	}
	r.sinkMu.Unlock()
	o, err := sim.Scan(ctx, "Q1")
	require.ErrorIs(t, err, thingmodel.ErrRejected, "the door learns its event was not taken and keeps it")
	require.NotNil(t, o.Event)
	r.sinkMu.Lock()
	r.sinkFn = nil
	r.sinkMu.Unlock()
	require.NoError(t, sim.Repost(ctx, *o.Event))
	ev := r.nextPass(t)
	assert.Equal(t, "p-1", ev.Pass.Person.ID)
	assert.Equal(t, o.Event.OccurredAt.Unix(), ev.OccurredAt.Unix(), "the event keeps the time it was decided")
}

func TestStatusEventsAndDriver(t *testing.T) {
	r := newRig(t)
	sim := r.dial(t)
	var kinds []accessctl.EventKind
	for len(kinds) < 1 {
		select {
		case e := <-r.events:
			kinds = append(kinds, e.Kind)
			assert.Equal(t, "a1DoorPK001/door-a", e.Device.ID)
			require.NotNil(t, e.Status)
		case <-time.After(5 * time.Second):
			t.Fatal("no online event")
		}
	}
	assert.Equal(t, accessctl.KindOnline, kinds[0])
	require.NoError(t, sim.Close())
	select {
	case e := <-r.events:
		assert.Equal(t, accessctl.KindOffline, e.Kind)
	case <-time.After(5 * time.Second):
		t.Fatal("no offline event")
	}

	var reg accessctl.Registry
	reg.Register("linkkit", r.hub)
	dev, err := reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{ID: "a1DoorPK001/door-a"})
	require.NoError(t, err)
	assert.Equal(t, "a1DoorPK001/door-a", dev.ID())
	dev, err = reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{Params: map[string]string{"productKey": "pk", "deviceName": "dn"}})
	require.NoError(t, err)
	assert.Equal(t, "pk/dn", dev.ID())
	_, err = reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{ID: "nonsense"})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	// The hub lists the doors it knows, as an accessctl.DeviceLister.
	var lister accessctl.DeviceLister = r.hub
	sts, err := lister.Devices(context.Background())
	require.NoError(t, err)
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.Device.ID)
	}
	assert.Contains(t, ids, "a1DoorPK001/door-a")
	err = r.hub.Door(triple.Key()).OpenDoor(context.Background(), accessctl.OpenRequest{Door: 2})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

// Status events follow the rules of pass events: an online the sink refuses
// is delivered again with the same id (it used to be dropped when the sink
// lagged), counted in Stats; a new session is a new online event.
func TestStatusEventsAreRetriedNotDropped(t *testing.T) {
	sink := accessctltest.NewSink()
	r := newRig(t, linkkit.WithSink(sink))
	sink.RefuseNext(accessctl.KindOnline, 3)
	sim := r.dial(t)
	online := func() []accessctltest.Delivery { return sink.Of(accessctl.KindOnline) }
	require.Eventually(t, func() bool { return len(online()) == 4 }, 10*time.Second, 5*time.Millisecond)
	ds := online()
	for _, d := range ds[:3] {
		assert.True(t, d.Refused)
		assert.Equal(t, ds[3].Event.ID, d.Event.ID, "the same event, the same id")
	}
	assert.False(t, ds[3].Refused)
	ref := accessctl.DeviceRef{Platform: "edge", ID: linkkit.DeviceID(triple.Key())}
	assert.Contains(t, ds[3].Event.ID, ref.String()+"/online/", "the liveness id scheme")
	assert.Equal(t, "127.0.0.1", ds[3].Event.Status.Info.IP)

	require.NoError(t, sim.Close())
	// Dialling again before the hub saw the session end would be a reboot
	// inside the offline window: no offline event to count.
	require.Eventually(t, func() bool { return len(sink.Of(accessctl.KindOffline)) == 1 }, 10*time.Second, 5*time.Millisecond, "offline after the door left")
	sim = r.dial(t)
	defer sim.Close()
	require.Eventually(t, func() bool { return len(online()) == 5 }, 10*time.Second, 5*time.Millisecond)
	assert.NotEqual(t, ds[3].Event.ID, online()[4].Event.ID, "a new session is a new online")
	// The counters move after the sink returned: the sink may have recorded
	// the last online a moment before the hub counted it.
	require.Eventually(t, func() bool { return r.hub.Stats().Delivered >= 3 }, 5*time.Second, 5*time.Millisecond, "online, offline, online counted")
	st := r.hub.Stats()
	assert.Equal(t, uint64(3), st.Refused)
	assert.Equal(t, uint64(1), st.Retried)
	assert.Zero(t, st.Dropped)
	assert.GreaterOrEqual(t, st.Delivered, uint64(3), "online, offline, online")
}
