// Package testutil holds helpers shared by Menjin's tests. It is internal:
// users of the SDK never import it.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// external tool is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of an external program the test needs. When
// the program is missing the test fails under CI and is skipped, loudly,
// elsewhere: `make test` installs every tool the suite uses.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	missing(t, name+" is not installed")
	return ""
}

// SystemPython is the interpreter that sees Debian's python3-* packages; a
// pyenv python3 earlier on PATH does not.
const SystemPython = "/usr/bin/python3"

// RequirePythonModule returns SystemPython after checking that it can import
// module (for example "websockets", from Debian's python3-websockets).
func RequirePythonModule(t testing.TB, module string) string {
	t.Helper()
	if _, err := os.Stat(SystemPython); err != nil {
		missing(t, SystemPython+" is not installed")
		return ""
	}
	if out, err := exec.Command(SystemPython, "-c", "import "+module).CombinedOutput(); err != nil {
		missing(t, "python module "+module+" is not importable by "+SystemPython+": "+string(out))
		return ""
	}
	return SystemPython
}

func missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s; CI=true makes this a failure (run `make test`, which installs it)", what)
	}
	t.Skipf("SKIP (tool missing): %s; run `make test` to install it", what)
}
