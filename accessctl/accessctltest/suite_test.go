package accessctltest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
)

var allKinds = []accessctl.CredentialKind{accessctl.CredFace, accessctl.CredCard, accessctl.CredBLECard,
	accessctl.CredPassword, accessctl.CredQRCode}

func credential(k accessctl.CredentialKind, id string) accessctl.Credential {
	if k == accessctl.CredFace {
		return accessctl.Credential{Kind: k, Face: &accessctl.Image{Data: []byte("face of " + id), MIME: "image/jpeg"}}
	}
	return accessctl.Credential{Kind: k, Value: string(k) + "-" + id}
}

// fakeFixture puts a FakeDevice between the suite's sink and a wrap of it
// (the identity for a conforming driver): wrap plays the driver's delivery.
func fakeFixture(t *testing.T, wrap func(accessctl.EventSink) accessctl.EventSink) (accessctltest.Fixture, *accessctltest.FakeDevice) {
	sink := accessctltest.NewSink()
	var to accessctl.EventSink = sink
	if wrap != nil {
		to = wrap(sink)
	}
	d := accessctltest.NewFakeDevice("fake-1", to)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	return accessctltest.Fixture{
		Device:     d,
		Disconnect: func() { _ = d.SetOnline(context.Background(), false) },
		Reconnect:  func() { _ = d.SetOnline(context.Background(), true) },
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "n-" + id,
				Credentials: []accessctl.Credential{credential(accessctl.CredCard, id)}}
		},
		CredentialKinds: allKinds,
		Credential:      credential,
		Holds:           d.Holds,
		DoorOpens:       d.DoorOpens,
		TriggerPass: func(id string) {
			wg.Go(func() { // the device sends again until the sink takes it, as a terminal does
				ctx := context.Background()
				_ = d.Pass(ctx, id)
				for i := 0; i < 300 && d.Unacked() > 0; i++ {
					time.Sleep(10 * time.Millisecond)
					_ = d.Redeliver(ctx)
				}
			})
		},
		Sink: sink,
		Acks: d.Acks,
	}, d
}

func conforming(t *testing.T) accessctltest.Fixture { f, _ := fakeFixture(t, nil); return f }

// ledgerHost plays a driver for a device that cannot be asked what it holds:
// it removes only whom its ledger says it put there.
type ledgerHost struct {
	dev    *accessctltest.FakeDevice
	mu     *sync.Mutex
	ledger map[string]bool // the store; survives a restart unless the driver forgets it
}

func (h *ledgerHost) ID() string { return h.dev.ID() }
func (h *ledgerHost) Status(ctx context.Context) (accessctl.Status, error) {
	return h.dev.Status(ctx)
}
func (h *ledgerHost) OpenDoor(ctx context.Context, r accessctl.OpenRequest) error {
	return h.dev.OpenDoor(ctx, r)
}
func (h *ledgerHost) Close() error { return h.dev.Close() }
func (h *ledgerHost) PutGrant(ctx context.Context, g accessctl.Grant) error {
	err := h.dev.PutGrant(ctx, g)
	if err == nil {
		h.mu.Lock()
		h.ledger[g.Person.ID] = true
		h.mu.Unlock()
	}
	return err
}
func (h *ledgerHost) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	h.mu.Lock()
	known := h.ledger[p.ID]
	h.mu.Unlock()
	if !known {
		return ctx.Err() // not ours to remove, as far as the ledger knows
	}
	if err := h.dev.RemoveGrant(ctx, p); err != nil {
		return err
	}
	h.mu.Lock()
	delete(h.ledger, p.ID)
	h.mu.Unlock()
	return nil
}

func ledgerFixture(t *testing.T, forget bool) accessctltest.Fixture {
	f, d := fakeFixture(t, nil)
	h := &ledgerHost{dev: d, mu: new(sync.Mutex), ledger: map[string]bool{}}
	f.Device, f.KeepsState = h, true
	f.Restart = func() accessctl.PermissionSync {
		nh := &ledgerHost{dev: d, mu: h.mu, ledger: h.ledger}
		if forget {
			nh.ledger = map[string]bool{}
		}
		return nh
	}
	return f
}

// The suites pass a conforming device (the fake, and a host with a durable
// ledger), and three suites in one test give distinct subtest names.
func TestFakeDeviceConforms(t *testing.T) {
	var mu sync.Mutex
	names := map[string]int{}
	mk := func(t *testing.T) accessctltest.Fixture {
		mu.Lock()
		names[t.Name()]++
		mu.Unlock()
		return conforming(t)
	}
	accessctltest.TestDevice(t, mk)
	accessctltest.TestPermissionSync(t, mk)
	accessctltest.TestEvents(t, mk)
	accessctltest.TestPermissionSync(t, func(t *testing.T) accessctltest.Fixture { return ledgerFixture(t, false) })

	assert.Len(t, names, 18)
	for n, c := range names {
		assert.Equal(t, 1, c, n)
		assert.NotContains(t, n, "#0", "subtest names collide")
	}
	for _, want := range []string{"Device/CancelledContext", "PermissionSync/CancelledContext", "Events/RefusedIsRedelivered"} {
		assert.Contains(t, names, t.Name()+"/"+want)
	}
}

// A suite that could not fail proves nothing. Each broken fake below has
// one fault a real driver has had; its suite runs in a child process, whose
// failure is observed rather than inherited, and must fail in exactly the
// subtest that tests the promise broken.
var broken = map[string]struct {
	suite func(*testing.T, accessctltest.MakeFixture)
	mk    accessctltest.MakeFixture
	fails string
}{
	"forgets-ledger-on-restart": {accessctltest.TestPermissionSync,
		func(t *testing.T) accessctltest.Fixture { return ledgerFixture(t, true) },
		"PermissionSync/RevokeAfterRestart"},
	"keeps-state-without-restart": {accessctltest.TestPermissionSync,
		func(t *testing.T) accessctltest.Fixture {
			f := ledgerFixture(t, false)
			f.Restart = nil
			return f
		}, "PermissionSync/RevokeAfterRestart"},
	"acks-refused-event": {accessctltest.TestEvents,
		delivering(func(s accessctl.EventSink, ctx context.Context, e accessctl.Event) error {
			_ = s.Handle(ctx, e) // acknowledged whatever the sink said
			return nil
		}), "Events/RefusedIsRedelivered"},
	"never-offline": {accessctltest.TestEvents,
		delivering(func(s accessctl.EventSink, ctx context.Context, e accessctl.Event) error {
			if e.Kind == accessctl.KindOffline {
				return nil
			}
			return s.Handle(ctx, e)
		}), "Events/OnlineAndOffline"},
	"status-fails-offline": {accessctltest.TestDevice,
		func(t *testing.T) accessctltest.Fixture {
			f, d := fakeFixture(t, nil)
			f.Device = statusFailsOffline{d}
			return f
		}, "Device/OfflineThenOnline"},
	"grant-without-person": {accessctltest.TestPermissionSync,
		func(t *testing.T) accessctltest.Fixture {
			f, d := fakeFixture(t, nil)
			f.Device = noPersonCheck{d}
			return f
		}, "PermissionSync/InvalidGrant"},
	"delivers-twice": {accessctltest.TestEvents,
		delivering(func(s accessctl.EventSink, ctx context.Context, e accessctl.Event) error {
			if err := s.Handle(ctx, e); err != nil || e.Kind != accessctl.KindPass {
				return err
			}
			e.ID += "-again"
			return s.Handle(ctx, e)
		}), "Events/NoDuplicateIDs"},
}

// delivering is a fake whose driver hands events to the sink by deliver.
func delivering(deliver func(accessctl.EventSink, context.Context, accessctl.Event) error) accessctltest.MakeFixture {
	return func(t *testing.T) accessctltest.Fixture {
		f, _ := fakeFixture(t, func(s accessctl.EventSink) accessctl.EventSink {
			return accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error { return deliver(s, ctx, e) })
		})
		return f
	}
}

type statusFailsOffline struct{ *accessctltest.FakeDevice }

func (d statusFailsOffline) Status(ctx context.Context) (accessctl.Status, error) {
	st, err := d.FakeDevice.Status(ctx)
	if err == nil && !st.Online {
		return st, fmt.Errorf("fake: %w", accessctl.ErrOffline)
	}
	return st, err
}

type noPersonCheck struct{ *accessctltest.FakeDevice }

func (d noPersonCheck) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if g.Person.ID == "" && len(g.Credentials) > 0 {
		return nil // stored under no id
	}
	return d.FakeDevice.PutGrant(ctx, g)
}

const brokenEnv = "ACCESSCTLTEST_BROKEN"

// TestBrokenChild runs one broken fake's suite when the parent asks for it.
func TestBrokenChild(t *testing.T) {
	b, ok := broken[os.Getenv(brokenEnv)]
	if !ok {
		t.Skip("runs only in the child process of TestSuiteCatchesBrokenDrivers")
	}
	accessctltest.Timeout = 2 * time.Second
	b.suite(t, b.mk)
}

var failLine = regexp.MustCompile(`--- FAIL: (\S+)`)

func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	names := make([]string, 0, len(broken))
	for n := range broken {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBrokenChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a driver that is %s:\n%s", name, out)
			var failed []string
			for _, m := range failLine.FindAllStringSubmatch(string(out), -1) {
				failed = append(failed, m[1])
			}
			leaf := "TestBrokenChild/" + broken[name].fails
			suite := leaf[:strings.LastIndexByte(leaf, '/')]
			assert.ElementsMatch(t, []string{"TestBrokenChild", suite, leaf}, failed,
				"exactly the subtest of the broken promise fails:\n%s", out)
		})
	}
}

func TestFakeDeviceForgetWorksOffline(t *testing.T) {
	d := accessctltest.NewFakeDevice("f", nil)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, d.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: id}}))
	}
	require.NoError(t, d.SetOnline(ctx, false))
	d.Forget("b")
	_, ok := d.Holds("b")
	assert.False(t, ok)
	_, ok = d.Holds("a")
	assert.True(t, ok)
	d.Forget()
	_, ok = d.Holds("a")
	assert.False(t, ok, "Forget with no ids drops everyone")
}

// The fake keeps a refused pass and sends it first, with its id, next time.
func TestFakeDeviceKeepsUnacknowledged(t *testing.T) {
	s := accessctltest.NewSink()
	d := accessctltest.NewFakeDevice("f", s)
	ctx := context.Background()
	s.RefuseNext(accessctl.KindPass, 1)
	require.ErrorIs(t, d.Pass(ctx, "a"), accessctltest.ErrRefused)
	assert.Equal(t, 1, d.Unacked())
	assert.Equal(t, 0, d.Acks())
	require.NoError(t, d.Pass(ctx, "b"))
	ds := s.Deliveries()
	require.Len(t, ds, 3)
	assert.True(t, ds[0].Refused)
	assert.Equal(t, ds[0].Event.ID, ds[1].Event.ID)
	assert.Equal(t, "b", ds[2].Event.Pass.Person.ID)
	assert.Equal(t, 2, d.Acks())
	assert.Equal(t, 0, d.Unacked())
}
