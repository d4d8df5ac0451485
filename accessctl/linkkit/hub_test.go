package linkkit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/linkkit/linkkittest"
	"github.com/menjin/menjin/transport/thingmodel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var triple = thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "secretA0123456789abcdef"}

// The spec's sample key (permissions-qr-events.md §2.1).
const sampleKey = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIukTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ=="

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

func (r *rig) dial(t *testing.T) *linkkittest.Door {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := linkkittest.Dial(ctx, r.url, triple)
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
		r := newRig(t)
		var mu sync.Mutex
		sim := r.dial(t)
		dev := r.hub.Door(triple.Key())
		return accessctltest.Fixture{
			Device: dev,
			Disconnect: func() {
				mu.Lock()
				defer mu.Unlock()
				_ = sim.Close()
			},
			Reconnect: func() {
				mu.Lock()
				defer mu.Unlock()
				sim = r.dial(t)
			},
			Grant:     func(id string) accessctl.Grant { return grant(id, "QR-"+id) },
			DoorOpens: func() int { mu.Lock(); defer mu.Unlock(); return sim.Opens() },
			TriggerPass: func(id string) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, dev.PutGrant(ctx, grant(id, "QR-"+id)))
				mu.Lock()
				s := sim
				mu.Unlock()
				pe, err := s.Present(ctx, linkkit.TypeQRCode, "QR-"+id)
				require.NoError(t, err)
				require.Equal(t, 0, pe.Code)
			},
			Events: r.events,
		}
	}
	accessctltest.TestDevice(t, mk)
	accessctltest.TestEvents(t, mk)
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
			{Kind: accessctl.CredCard, Value: "F47B0BA2"},
		}}
	require.NoError(t, d.PutGrant(ctx, g))
	rec, ok := sim.Lookup(linkkit.TypeQRCode, "ALIF24DD9END8CD3")
	require.True(t, ok)
	assert.Equal(t, int64(1568270392000), rec.Start)
	assert.Equal(t, int64(4102444800000), rec.End)
	assert.Equal(t, 2, rec.MaxScans)
	assert.Equal(t, "p-1", rec.UserID)
	_, ok = sim.Lookup(linkkit.TypeTradCard, "F47B0BA2")
	assert.True(t, ok)
	last := d.LastSync()
	assert.NoError(t, last.Err)
	assert.Equal(t, 2, last.Entries)
	assert.Equal(t, 1, last.Downloads, "the door fetched the file before it replied")

	// Putting the grant again without the card deletes the card only.
	g.Credentials = g.Credentials[:1]
	require.NoError(t, d.PutGrant(ctx, g))
	_, ok = sim.Lookup(linkkit.TypeTradCard, "F47B0BA2")
	assert.False(t, ok)
	_, ok = sim.Lookup(linkkit.TypeQRCode, "ALIF24DD9END8CD3")
	assert.True(t, ok)

	// Two scans pass, the third is used up; pass events carry the person.
	for i, want := range []int{0, 0, linkkit.CodeQRUsedUp} {
		pe, err := sim.Present(ctx, linkkit.TypeQRCode, "ALIF24DD9END8CD3")
		require.NoError(t, err)
		require.Equal(t, want, pe.Code, i)
		ev := r.nextPass(t)
		assert.Equal(t, want, ev.Pass.Result.Code)
		assert.Equal(t, want == 0, ev.Pass.Result.Granted)
		require.NotNil(t, ev.Pass.Person)
		assert.Equal(t, "p-1", ev.Pass.Person.ID)
		assert.Equal(t, "a1DoorPK001/door-a", ev.Device.ID)
	}

	syncs := sim.Syncs()
	require.NoError(t, d.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	assert.Equal(t, 0, sim.Len())
	require.NoError(t, d.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}), "removing an absent person succeeds")
	assert.Equal(t, syncs+1, sim.Syncs(), "and sends nothing")

	pe, err := sim.Present(ctx, linkkit.TypeQRCode, "ALIF24DD9END8CD3")
	require.NoError(t, err)
	assert.Equal(t, linkkit.CodeQRUnknown, pe.Code)
	assert.Equal(t, "QR code does not exist", r.nextPass(t).Pass.Result.Message)

	// A deny grant for a held person removes them.
	require.NoError(t, d.PutGrant(ctx, grant("p-2", "Q2")))
	deny := grant("p-2", "Q2")
	deny.Policy = accessctl.PolicyDeny
	require.NoError(t, d.PutGrant(ctx, deny))
	_, ok = sim.Lookup(linkkit.TypeQRCode, "Q2")
	assert.False(t, ok)

	// Faces alone cannot travel in the file.
	err = d.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "p-3"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{URL: "http://x"}}}})
	assert.ErrorIs(t, err, accessctl.ErrUnsupported)
}

func TestPermissionSyncFailures(t *testing.T) {
	// A URL that expires before the door fetches it: the door answers 404's
	// failure, the host gets a typed rejection.
	fs, err := linkkit.ServeFiles("127.0.0.1:0", "", linkkit.WithFileTTL(time.Nanosecond))
	require.NoError(t, err)
	defer fs.Close()
	r := newRig(t, linkkit.WithFileServer(fs))
	r.dial(t)
	d := r.hub.Door(triple.Key())
	ctx := context.Background()
	err = d.PutGrant(ctx, grant("p-1", "Q1"))
	require.ErrorIs(t, err, accessctl.ErrRejected)
	var re *accessctl.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "syncPermissions", re.Op)
	assert.Contains(t, re.Message, "404")
	assert.ErrorIs(t, d.LastSync().Err, accessctl.ErrRejected)

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
	require.Eventually(t, func() bool { return sim.RSAPublicKey() == sampleKey }, 10*time.Second, 5*time.Millisecond)
	// The door reports the accepted key back; the hub shows it in Status.
	require.Eventually(t, func() bool {
		st, err := d.Status(context.Background())
		return err == nil && st.Info.Extra["RSAPublicKey"] == sampleKey
	}, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return r.hub.Stats().KeyPushes == 1 }, 5*time.Second, 5*time.Millisecond)

	// After a reconnect the key is pushed again.
	require.NoError(t, sim.Close())
	sim2 := r.dial(t)
	require.Eventually(t, func() bool { return sim2.RSAPublicKey() == sampleKey }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, d.SetRSAPublicKey(context.Background(), "MFww"))
	assert.Equal(t, "MFww", sim2.RSAPublicKey())
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
	_, err := sim.Present(ctx, linkkit.TypeQRCode, "Q1")
	require.ErrorIs(t, err, thingmodel.ErrRejected, "the door learns its event was not taken and keeps it")
	r.sinkMu.Lock()
	r.sinkFn = nil
	r.sinkMu.Unlock()
	_, err = sim.Present(ctx, linkkit.TypeQRCode, "Q1")
	require.NoError(t, err)
	assert.Equal(t, "p-1", r.nextPass(t).Pass.Person.ID)
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
	reg.Register("linkkit", r.hub.Driver())
	dev, err := reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{ID: "a1DoorPK001/door-a"})
	require.NoError(t, err)
	assert.Equal(t, "a1DoorPK001/door-a", dev.ID())
	dev, err = reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{Params: map[string]string{"productKey": "pk", "deviceName": "dn"}})
	require.NoError(t, err)
	assert.Equal(t, "pk/dn", dev.ID())
	_, err = reg.Open(context.Background(), "linkkit", accessctl.DeviceConfig{ID: "nonsense"})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	err = r.hub.Door(triple.Key()).OpenDoor(context.Background(), accessctl.OpenRequest{Door: 2})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}
