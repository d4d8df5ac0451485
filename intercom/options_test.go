package intercom

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 12: a role's option handed to another role's constructor must not
// compile (NewResident(WithOpener(...)) used to compile and do nothing),
// while the shared ones fit every constructor they are meant for.
func TestRoleOptionsDoNotMix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := func(body string) (string, error) {
		dir := t.TempDir()
		src := "package main\n\nimport (\n\t\"log/slog\"\n\t\"time\"\n\n\t\"github.com/menjin/menjin/intercom\"\n)\n\n" +
			"var _ = slog.Default\nvar _ = time.Second\n\nfunc main() {\n" + body + "\n}\n"
		f := filepath.Join(dir, "main.go")
		require.NoError(t, os.WriteFile(f, []byte(src), 0o600))
		out, err := exec.Command(gobin, "build", "-o", filepath.Join(dir, "bin"), f).CombinedOutput()
		return string(out), err
	}
	out, err := build(`
	_, _ = intercom.NewDoorStation("127.0.0.1:0", intercom.WithUser("d"), intercom.WithLogger(nil),
		intercom.WithOpener(nil), intercom.WithAllow(), intercom.WithTimerT1(time.Millisecond))
	_, _ = intercom.NewResident("127.0.0.1:0", intercom.WithUser("r"), intercom.WithLogger(slog.Default()),
		intercom.WithAutoAnswer(false), intercom.WithTCPIdleTimeout(time.Second))
	_, _ = intercom.NewEndpoint("127.0.0.1:0", intercom.WithUser("e"), intercom.WithLogger(nil))
	_, _ = intercom.NewRegistrar("127.0.0.1:0", nil, intercom.WithRealm("x"), intercom.WithLogger(nil))`)
	require.NoError(t, err, "the control program must compile: %s", out)
	for _, bad := range []struct{ body, want string }{
		{`_, _ = intercom.NewResident("127.0.0.1:0", intercom.WithOpener(nil))`, "missing method applyResident"},
		{`_, _ = intercom.NewResident("127.0.0.1:0", intercom.WithAllow())`, "missing method applyResident"},
		{`_, _ = intercom.NewDoorStation("127.0.0.1:0", intercom.WithAutoAnswer(true))`, "missing method applyDoor"},
		{`_, _ = intercom.NewEndpoint("127.0.0.1:0", intercom.WithOpener(nil))`, "missing method applyEndpoint"},
		{`_, _ = intercom.NewRegistrar("127.0.0.1:0", nil, intercom.WithUser("x"))`, "missing method applyRegistrar"},
	} {
		out, err := build(bad.body)
		assert.Error(t, err, bad.body)
		assert.Contains(t, out, bad.want, bad.body)
	}
}
