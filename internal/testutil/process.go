package testutil

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address with a port nobody listens on now,
// for a child process that must listen on a known address across restarts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("close probe listener: %v", err)
	}
	return addr
}

// StartSelf starts this test binary again as a child process with env set
// to "1" and the given arguments; the package's TestMain runs main() when
// it sees env, so the child is the real program (kill -9 tests).
func StartSelf(t testing.TB, env string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env+"=1")
	return cmd
}

// StartSelfLogged starts StartSelf's child with its stderr appended to
// logFile, which outlives restarts: what the killed run said stays there
// for a failure message.
func StartSelfLogged(t testing.TB, env, logFile string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := StartSelf(t, env, args...)
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("child log: %v", err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd
}

// BuildProgram builds the main package in the test's directory into a
// temporary file named name and returns its path, for black-box tests of
// the real binary; ctx bounds the build. It skips under -short.
func BuildProgram(ctx context.Context, t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
