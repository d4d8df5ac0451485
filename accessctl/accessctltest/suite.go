package accessctltest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
)

// Fixture is one device under test and a view of its device side.
type Fixture struct {
	// Device is connected and online when the fixture is returned.
	Device accessctl.Device
	// Sync, when set, is what TestPermissionSync tests instead of Device:
	// for a PermissionSync that is not a Device (a cloud directory).
	Sync accessctl.PermissionSync
	// Disconnect takes the device side away (a cable pulled); the driver
	// must then report the device offline and fail calls with ErrOffline.
	Disconnect func()
	// Reconnect brings the device side back and returns when the driver
	// sees it online again.
	Reconnect func()
	// Grant returns a valid grant for the person id, with the credentials
	// this device accepts (a face for a face terminal).
	Grant func(personID string) accessctl.Grant
	// CredentialKinds lists every kind of credential the device supports
	// (face, card, BLE card, password, QR code); Credential builds a valid
	// one of a kind for a person. TestPermissionSync puts a grant with each.
	CredentialKinds []accessctl.CredentialKind
	Credential      func(kind accessctl.CredentialKind, personID string) accessctl.Credential
	// KeepsState declares that the host side keeps state outside the device
	// (a ledger of what it put where, because the device cannot list what it
	// holds). Such a fixture must give Restart.
	KeepsState bool
	// Restart stops the host side (the driver) and starts it again on the
	// same store, and returns the device's new handle once it is online.
	// TestPermissionSync checks that a removal after the restart still
	// reaches the device.
	Restart func() accessctl.PermissionSync
	// Holds reports whether the device side holds the person, and under
	// which name.
	Holds func(personID string) (name string, ok bool)
	// NoNames declares a device side that holds credentials but no names
	// (Holds returns ""): the suite then does not compare names.
	NoNames bool
	// DoorOpens counts door openings on the device side. It may be nil only
	// for devices whose OpenDoor returns ErrUnsupported.
	DoorOpens func() int
	// TriggerPass makes the device side report a granted pass of the person
	// (used by TestEvents). It must not wait for the sink: the suite may be
	// refusing the event on purpose.
	TriggerPass func(personID string)
	// Sink is the driver's EventSink, made with NewSink, through which the
	// suite watches (and refuses) what the driver delivers (TestEvents).
	Sink *Sink
	// Acks, when the device side can tell, counts the events the driver
	// acknowledged to it; TestEvents checks no refused event is acknowledged.
	Acks func() int
}

// MakeFixture builds a fresh fixture for one subtest; it registers its own
// cleanup with t.Cleanup.
type MakeFixture func(t *testing.T) Fixture

// leakChecked makes each fixture prove that its cleanup (the driver's and
// the device side's Close) leaves no goroutine behind.
func leakChecked(mk MakeFixture) MakeFixture {
	return func(t *testing.T) Fixture {
		before := goleak.IgnoreCurrent()
		t.Cleanup(func() { // registered first, so it runs after the fixture's own cleanup
			if err := goleak.Find(before); err != nil {
				t.Errorf("goroutines left after the fixture was closed: %v", err)
			}
		})
		return mk(t)
	}
}

// Timeout bounds every call the suite makes and every wait for a state.
var Timeout = 10 * time.Second

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// online asks Status, which must answer whether the device is online or not.
func online(t *testing.T, d accessctl.Device) bool {
	t.Helper()
	st, err := d.Status(ctx(t))
	if err != nil {
		t.Fatalf("Status failed (%v): it must report the state, online or offline", err)
	}
	return st.Online
}

// TestDevice checks the Device contract: identity, status, door opening,
// offline behaviour (Status still answers), cancellation and Close. Its
// subtests are named Device/….
func TestDevice(t *testing.T, mk MakeFixture) {
	t.Run("Device", func(t *testing.T) { testDevice(t, leakChecked(mk)) })
}

func testDevice(t *testing.T, mk MakeFixture) {
	t.Run("IdentityAndStatus", func(t *testing.T) {
		f := mk(t)
		id := f.Device.ID()
		if id == "" {
			t.Fatal("ID() is empty")
		}
		if f.Device.ID() != id {
			t.Fatal("ID() is not stable")
		}
		st, err := f.Device.Status(ctx(t))
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if !st.Online {
			t.Fatal("a fixture's device must be online")
		}
		if st.Device.ID != id {
			t.Fatalf("Status().Device.ID = %q, want %q", st.Device.ID, id)
		}
		if st.LastSeen.IsZero() {
			t.Fatal("Status().LastSeen is zero for an online device")
		}
	})

	t.Run("OpenDoor", func(t *testing.T) {
		f := mk(t)
		err := f.Device.OpenDoor(ctx(t), accessctl.OpenRequest{Operator: "conformance"})
		switch {
		case errors.Is(err, accessctl.ErrUnsupported):
			// A protocol without remote opening must say so, and keep saying so.
			if err2 := f.Device.OpenDoor(ctx(t), accessctl.OpenRequest{}); !errors.Is(err2, accessctl.ErrUnsupported) {
				t.Fatalf("second OpenDoor = %v, want ErrUnsupported again", err2)
			}
		case err != nil:
			t.Fatalf("OpenDoor: %v", err)
		default:
			if f.DoorOpens == nil {
				t.Fatal("OpenDoor succeeded but the fixture cannot count door openings")
			}
			eventually(t, "the door to open on the device side", func() bool { return f.DoorOpens() >= 1 })
		}
	})

	t.Run("OfflineThenOnline", func(t *testing.T) {
		f := mk(t)
		f.Disconnect()
		eventually(t, "Status to report offline", func() bool { return !online(t, f.Device) })
		st, err := f.Device.Status(ctx(t))
		if err != nil || st.Online || st.Device.ID != f.Device.ID() {
			t.Fatalf("Status while offline = (%+v, %v), want Online=false for %s and no error", st, err, f.Device.ID())
		}
		err = f.Device.OpenDoor(ctx(t), accessctl.OpenRequest{})
		if !errors.Is(err, accessctl.ErrOffline) && !errors.Is(err, accessctl.ErrUnsupported) {
			t.Fatalf("OpenDoor on an offline device = %v, want ErrOffline (or ErrUnsupported)", err)
		}
		if ps, ok := f.Device.(accessctl.PermissionSync); ok {
			if err := ps.PutGrant(ctx(t), f.Grant("offline-1")); !errors.Is(err, accessctl.ErrOffline) {
				t.Fatalf("PutGrant on an offline device = %v, want ErrOffline", err)
			}
		}
		f.Reconnect()
		eventually(t, "Status to report online again", func() bool { return online(t, f.Device) })
	})

	t.Run("CancelledContext", func(t *testing.T) {
		f := mk(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		err := f.Device.OpenDoor(c, accessctl.OpenRequest{})
		if err == nil {
			t.Fatal("OpenDoor with a cancelled context succeeded")
		}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, accessctl.ErrUnsupported) {
			t.Fatalf("OpenDoor with a cancelled context = %v, want context.Canceled", err)
		}
		if time.Since(start) > time.Second {
			t.Fatal("a cancelled call must return at once")
		}
	})

	t.Run("CloseIsIdempotent", func(t *testing.T) {
		f := mk(t)
		if err := f.Device.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := f.Device.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := f.Device.OpenDoor(ctx(t), accessctl.OpenRequest{}); err == nil {
			t.Fatal("OpenDoor after Close succeeded")
		}
	})
}

func sync_(t *testing.T, f Fixture) accessctl.PermissionSync {
	t.Helper()
	if f.Sync != nil {
		return f.Sync
	}
	ps, ok := f.Device.(accessctl.PermissionSync)
	if !ok {
		t.Fatalf("%T does not implement accessctl.PermissionSync", f.Device)
	}
	return ps
}

// TestPermissionSync checks the PermissionSync contract: put, update,
// idempotency, removal, removal of the absent, every credential kind,
// validity windows, invalid grants, concurrency, cancellation and removal
// after a restart of the host side. Its subtests are named PermissionSync/….
func TestPermissionSync(t *testing.T, mk MakeFixture) {
	t.Run("PermissionSync", func(t *testing.T) { testPermissionSync(t, leakChecked(mk)) })
}

func testPermissionSync(t *testing.T, mk MakeFixture) {
	t.Run("PutThenHolds", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		g := f.Grant("p-1")
		if err := ps.PutGrant(ctx(t), g); err != nil {
			t.Fatalf("PutGrant: %v", err)
		}
		name, ok := f.Holds("p-1")
		if !ok {
			t.Fatal("device side does not hold the person after PutGrant")
		}
		if !f.NoNames && g.Name != "" && name != g.Name {
			t.Fatalf("device holds name %q, want %q", name, g.Name)
		}
	})

	t.Run("PutIsIdempotentAndUpdates", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		g := f.Grant("p-2")
		for i := 0; i < 2; i++ {
			if err := ps.PutGrant(ctx(t), g); err != nil {
				t.Fatalf("PutGrant #%d: %v", i+1, err)
			}
		}
		g.Name = "renamed"
		if err := ps.PutGrant(ctx(t), g); err != nil {
			t.Fatalf("PutGrant with a new name: %v", err)
		}
		if name, ok := f.Holds("p-2"); !ok || (!f.NoNames && name != "renamed") {
			t.Fatalf("after update the device holds (%q, %t), want (renamed, true)", name, ok)
		}
		if lister, ok := sync_(t, f).(accessctl.GrantLister); ok {
			refs, err := lister.ListGrants(ctx(t))
			if err != nil {
				t.Fatalf("ListGrants: %v", err)
			}
			n := 0
			for _, r := range refs {
				if r.ID == "p-2" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("ListGrants shows p-2 %d times, want once", n)
			}
		}
	})

	t.Run("RemoveAndRemoveAgain", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		if err := ps.PutGrant(ctx(t), f.Grant("p-3")); err != nil {
			t.Fatalf("PutGrant: %v", err)
		}
		ref := accessctl.PersonRef{ID: "p-3"}
		if err := ps.RemoveGrant(ctx(t), ref); err != nil {
			t.Fatalf("RemoveGrant: %v", err)
		}
		if _, ok := f.Holds("p-3"); ok {
			t.Fatal("device side still holds the person after RemoveGrant")
		}
		if err := ps.RemoveGrant(ctx(t), ref); err != nil {
			t.Fatalf("RemoveGrant of a removed person = %v, want nil", err)
		}
		if err := ps.RemoveGrant(ctx(t), accessctl.PersonRef{ID: "never-there"}); err != nil {
			t.Fatalf("RemoveGrant of an unknown person = %v, want nil", err)
		}
		if getter, ok := sync_(t, f).(accessctl.GrantGetter); ok {
			if _, err := getter.GetGrant(ctx(t), ref); !errors.Is(err, accessctl.ErrNotFound) {
				t.Fatalf("GetGrant of a removed person = %v, want ErrNotFound", err)
			}
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := ps.PutGrant(ctx(t), f.Grant(fmt.Sprintf("c-%d", i))); err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent PutGrant: %v", err)
		}
		for i := 0; i < n; i++ {
			if _, ok := f.Holds(fmt.Sprintf("c-%d", i)); !ok {
				t.Fatalf("device side lacks c-%d after concurrent puts", i)
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		err := ps.PutGrant(c, f.Grant("p-4"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("PutGrant with a cancelled context = %v, want context.Canceled", err)
		}
	})

	t.Run("InvalidGrant", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		if err := ps.PutGrant(ctx(t), accessctl.Grant{}); !errors.Is(err, accessctl.ErrInvalid) {
			t.Fatalf("PutGrant of an empty grant = %v, want ErrInvalid", err)
		}
		g := f.Grant("p-5")
		g.Person.ID = ""
		if err := ps.PutGrant(ctx(t), g); !errors.Is(err, accessctl.ErrInvalid) {
			t.Fatalf("PutGrant of a grant with credentials but no person id = %v, want ErrInvalid", err)
		}
	})

	t.Run("EveryCredentialKind", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		if len(f.CredentialKinds) == 0 || f.Credential == nil {
			t.Fatal("the fixture must declare CredentialKinds and give Credential")
		}
		for _, k := range f.CredentialKinds {
			id := "k-" + string(k)
			g := f.Grant(id)
			g.Credentials = []accessctl.Credential{f.Credential(k, id)}
			if err := ps.PutGrant(ctx(t), g); err != nil {
				t.Fatalf("PutGrant with only a %s credential: %v", k, err)
			}
			if _, ok := f.Holds(id); !ok {
				t.Fatalf("device side does not hold the person after PutGrant with a %s credential", k)
			}
		}
	})

	t.Run("ValidityWindow", func(t *testing.T) {
		f := mk(t)
		ps := sync_(t, f)
		now := time.Now().Truncate(time.Second)
		from, to := now.Add(-time.Hour), now.Add(30*24*time.Hour)
		g := f.Grant("p-6")
		g.ValidFrom, g.ValidTo = &from, &to
		if err := ps.PutGrant(ctx(t), g); err != nil {
			t.Fatalf("PutGrant with a validity window: %v", err)
		}
		if _, ok := f.Holds("p-6"); !ok {
			t.Fatal("device side does not hold a person whose window is open")
		}
		if getter, ok := sync_(t, f).(accessctl.GrantGetter); ok {
			got, err := getter.GetGrant(ctx(t), accessctl.PersonRef{ID: "p-6"})
			if err != nil {
				t.Fatalf("GetGrant: %v", err)
			}
			if got.ValidTo != nil && !got.ValidTo.Equal(to) {
				t.Fatalf("GetGrant window ends %v, want %v", got.ValidTo, to)
			}
		}
	})

	t.Run("RevokeAfterRestart", func(t *testing.T) {
		f := mk(t)
		switch {
		case f.Restart == nil && f.KeepsState:
			t.Fatal("the fixture keeps state outside the device but gives no Restart: a removal after a restart is untested")
		case f.Restart == nil:
			t.Skip("the device holds all its state; the host side has nothing to forget")
		}
		if err := sync_(t, f).PutGrant(ctx(t), f.Grant("p-7")); err != nil {
			t.Fatalf("PutGrant: %v", err)
		}
		f.Sync = f.Restart()
		if err := sync_(t, f).RemoveGrant(ctx(t), accessctl.PersonRef{ID: "p-7"}); err != nil {
			t.Fatalf("RemoveGrant after a restart: %v", err)
		}
		if _, ok := f.Holds("p-7"); ok {
			t.Fatal("device side still holds the person removed after a restart of the host side")
		}
	})
}

// TestEvents checks what reaches the sink: passes with their envelope,
// online and offline, a refused event left unacknowledged and delivered
// again with the same ID, and no event delivered twice under two ids. Its
// subtests are named Events/….
func TestEvents(t *testing.T, mk MakeFixture) {
	t.Run("Events", func(t *testing.T) { testEvents(t, leakChecked(mk)) })
}

func events(t *testing.T, mk MakeFixture) Fixture {
	t.Helper()
	f := mk(t)
	if f.TriggerPass == nil || f.Sink == nil {
		t.Fatal("TestEvents needs a fixture with TriggerPass and Sink")
	}
	if f.Acks != nil {
		f.Sink.watchAcks(f.Acks)
	}
	return f
}

// waitFor returns the first delivery from index from on that matches.
func waitFor(t *testing.T, s *Sink, from int, what string, match func(Delivery) bool) (Delivery, int) {
	t.Helper()
	var got Delivery
	var at int
	eventually(t, what, func() bool {
		ds := s.Deliveries()
		for i := from; i < len(ds); i++ {
			if match(ds[i]) {
				got, at = ds[i], i
				return true
			}
		}
		return false
	})
	return got, at
}

func passOf(id string, refused bool) func(Delivery) bool {
	return func(d Delivery) bool {
		e := d.Event
		return d.Refused == refused && e.Kind == accessctl.KindPass && e.Pass != nil &&
			e.Pass.Person != nil && e.Pass.Person.ID == id
	}
}

func testEvents(t *testing.T, mk MakeFixture) {
	t.Run("PassReachesSink", func(t *testing.T) {
		f := events(t, mk)
		f.TriggerPass("p-9")
		d, _ := waitFor(t, f.Sink, 0, "a pass of p-9 to reach the sink", passOf("p-9", false))
		e := d.Event
		if e.ID == "" {
			t.Fatal("a pass event without an ID (sinks need it as idempotency key)")
		}
		if e.Device.ID != f.Device.ID() {
			t.Fatalf("event device %q, want %q", e.Device.ID, f.Device.ID())
		}
		if e.ReceivedAt.IsZero() || e.OccurredAt.IsZero() {
			t.Fatal("event times are not set")
		}
	})

	t.Run("OnlineAndOffline", func(t *testing.T) {
		f := events(t, mk)
		status := func(kind accessctl.EventKind) func(Delivery) bool {
			return func(d Delivery) bool {
				e := d.Event
				return !d.Refused && e.Kind == kind && e.Device.ID == f.Device.ID()
			}
		}
		start := len(f.Sink.Deliveries())
		f.Disconnect()
		off, at := waitFor(t, f.Sink, start, "an offline event after Disconnect", status(accessctl.KindOffline))
		if off.Event.Status == nil || off.Event.Status.Online {
			t.Fatalf("offline event with status %+v, want Online=false", off.Event.Status)
		}
		f.Reconnect()
		on, _ := waitFor(t, f.Sink, at+1, "an online event after Reconnect", status(accessctl.KindOnline))
		if on.Event.Status == nil || !on.Event.Status.Online {
			t.Fatalf("online event with status %+v, want Online=true", on.Event.Status)
		}
		if off.Event.ID == "" || on.Event.ID == "" || off.Event.ID == on.Event.ID {
			t.Fatalf("status event ids %q and %q: want two distinct non-empty ids", off.Event.ID, on.Event.ID)
		}
	})

	t.Run("RefusedIsRedelivered", func(t *testing.T) {
		f := events(t, mk)
		base := -1
		if f.Acks != nil {
			base = f.Acks()
		}
		f.Sink.RefuseNext(accessctl.KindPass, 1)
		f.TriggerPass("p-10")
		refused, _ := waitFor(t, f.Sink, 0, "the pass of p-10 (to be refused)", passOf("p-10", true))
		again, _ := waitFor(t, f.Sink, 0, "the refused pass of p-10 delivered again", passOf("p-10", false))
		if again.Event.ID != refused.Event.ID {
			t.Fatalf("redelivered with id %q, refused with %q: the same event must keep its id", again.Event.ID, refused.Event.ID)
		}
		if base >= 0 && again.Acks != base {
			t.Fatalf("the device side had %d acknowledgements when the redelivery arrived, %d before the pass: the refused event was acknowledged",
				again.Acks, base)
		}
		if f.Acks != nil {
			eventually(t, "the accepted pass to be acknowledged", func() bool { return f.Acks() > base })
		}
	})

	t.Run("NoDuplicateIDs", func(t *testing.T) {
		f := events(t, mk)
		f.TriggerPass("p-11")
		waitFor(t, f.Sink, 0, "a pass of p-11", passOf("p-11", false))
		f.TriggerPass("p-12") // a later event: a duplicate of p-11 would be in by then
		waitFor(t, f.Sink, 0, "a pass of p-12", passOf("p-12", false))
		ids := map[string]bool{}
		for _, d := range f.Sink.Deliveries() {
			if passOf("p-11", false)(d) {
				ids[d.Event.ID] = true
			}
		}
		if len(ids) != 1 {
			t.Fatalf("one pass of p-11 reached the sink under %d ids: %v", len(ids), ids)
		}
	})
}
