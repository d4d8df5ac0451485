// Package testutil holds helpers shared by Menjin's tests. It is internal:
// users of the SDK never import it.
package testutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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

// RunPython runs SystemPython with args (a script and its arguments) after
// RequirePythonModule(t, module), killed after timeout. Its stdout comes
// line by line on lines (closed when it exits; lines beyond the buffer of
// 1024 are not sent, but still returned by wait). wait returns all of
// stdout and the exit error, which carries stderr.
func RunPython(t testing.TB, module string, timeout time.Duration, args ...string) (lines <-chan string, wait func() (string, error)) {
	t.Helper()
	py := RequirePythonModule(t, module)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, py, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1024)
	all := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			select {
			case ch <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
		close(ch)
		all <- b.String()
	}()
	return ch, func() (string, error) {
		s := <-all
		if err := cmd.Wait(); err != nil {
			return s, fmt.Errorf("%v; stderr:\n%s", err, stderr.String())
		}
		return s, nil
	}
}
