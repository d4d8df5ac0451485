package accessctltest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Fixture is one device under test and a view of its device side.
type Fixture struct {
	// Device is connected and online when the fixture is returned.
	Device accessctl.Device
	// Disconnect takes the device side away (a cable pulled); the driver
	// must then report the device offline and fail calls with ErrOffline.
	Disconnect func()
	// Reconnect brings the device side back and returns when the driver
	// sees it online again.
	Reconnect func()
	// Grant returns a valid grant for the person id, with the credentials
	// this device accepts (a face for a face terminal).
	Grant func(personID string) accessctl.Grant
	// Holds reports whether the device side holds the person, and under
	// which name.
	Holds func(personID string) (name string, ok bool)
	// DoorOpens counts door openings on the device side. It may be nil only
	// for devices whose OpenDoor returns ErrUnsupported.
	DoorOpens func() int
	// TriggerPass makes the device side report a granted pass of the person
	// (used by TestEvents).
	TriggerPass func(personID string)
	// Events receives what the driver delivered to its EventSink (used by
	// TestEvents).
	Events <-chan accessctl.Event
}

// MakeFixture builds a fresh fixture for one subtest; it registers its own
// cleanup with t.Cleanup.
type MakeFixture func(t *testing.T) Fixture

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

func online(t *testing.T, d accessctl.Device) bool {
	st, err := d.Status(ctx(t))
	return err == nil && st.Online
}

// TestDevice checks the Device contract: identity, status, door opening,
// offline behaviour, cancellation and Close.
func TestDevice(t *testing.T, mk MakeFixture) {
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
		err := f.Device.OpenDoor(ctx(t), accessctl.OpenRequest{})
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
	ps, ok := f.Device.(accessctl.PermissionSync)
	if !ok {
		t.Fatalf("%T does not implement accessctl.PermissionSync", f.Device)
	}
	return ps
}

// TestPermissionSync checks the PermissionSync contract: put, update,
// idempotency, removal, removal of the absent, concurrency and cancellation.
func TestPermissionSync(t *testing.T, mk MakeFixture) {
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
		if g.Name != "" && name != g.Name {
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
		if name, ok := f.Holds("p-2"); !ok || name != "renamed" {
			t.Fatalf("after update the device holds (%q, %t), want (renamed, true)", name, ok)
		}
		if lister, ok := f.Device.(accessctl.GrantLister); ok {
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
		if getter, ok := f.Device.(accessctl.GrantGetter); ok {
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
		if err := ps.PutGrant(ctx(t), accessctl.Grant{}); err == nil {
			t.Fatal("PutGrant of a grant without a person id succeeded")
		}
	})
}

// TestEvents checks that what the device side reports reaches the sink,
// with the envelope filled in.
func TestEvents(t *testing.T, mk MakeFixture) {
	t.Run("PassReachesSink", func(t *testing.T) {
		f := mk(t)
		if f.TriggerPass == nil || f.Events == nil {
			t.Fatal("TestEvents needs a fixture with TriggerPass and Events")
		}
		f.TriggerPass("p-9")
		deadline := time.After(Timeout)
		for {
			select {
			case e := <-f.Events:
				if e.Kind != accessctl.KindPass {
					continue
				}
				if e.Pass == nil {
					t.Fatal("a pass event without its Pass payload")
				}
				if e.ID == "" {
					t.Fatal("a pass event without an ID (sinks need it as idempotency key)")
				}
				if e.Device.ID != f.Device.ID() {
					t.Fatalf("event device %q, want %q", e.Device.ID, f.Device.ID())
				}
				if e.Pass.Person == nil || e.Pass.Person.ID != "p-9" {
					t.Fatalf("event person %v, want p-9", e.Pass.Person)
				}
				if e.ReceivedAt.IsZero() || e.OccurredAt.IsZero() {
					t.Fatal("event times are not set")
				}
				return
			case <-deadline:
				t.Fatal("no pass event reached the sink")
			}
		}
	})
}
