package accessctltest_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
)

// The suite runs against the fake, which proves both: the fake keeps the
// contract, and the suite passes a conforming device.
func fakeFixture(t *testing.T) accessctltest.Fixture {
	events := make(chan accessctl.Event, 64)
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		events <- e
		return nil
	})
	d := accessctltest.NewFakeDevice("fake-1", sink)
	return accessctltest.Fixture{
		Device:     d,
		Disconnect: func() { _ = d.SetOnline(context.Background(), false) },
		Reconnect:  func() { _ = d.SetOnline(context.Background(), true) },
		Grant: func(id string) accessctl.Grant {
			return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "n-" + id}
		},
		Holds:       d.Holds,
		DoorOpens:   d.DoorOpens,
		TriggerPass: func(id string) { _ = d.Pass(context.Background(), id) },
		Events:      events,
	}
}

func TestFakeDeviceConforms(t *testing.T) {
	accessctltest.TestDevice(t, fakeFixture)
	accessctltest.TestPermissionSync(t, fakeFixture)
	accessctltest.TestEvents(t, fakeFixture)
}

// A suite that could not fail proves nothing: a device that forgets grants
// must be caught. The broken run happens in a child process so that its
// failure is observed rather than inherited.
func TestSuiteCatchesABrokenDevice(t *testing.T) {
	if os.Getenv("ACCESSCTLTEST_BROKEN") == "1" {
		accessctltest.TestPermissionSync(t, func(t *testing.T) accessctltest.Fixture {
			f := fakeFixture(t)
			f.Holds = func(string) (string, bool) { return "", false }
			return f
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesABrokenDevice$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ACCESSCTLTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the suite passed a device that forgets grants:\n%s", out)
	assert.Contains(t, string(out), "does not hold the person after PutGrant")
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
