package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const childEnv = "TESTUTIL_WATCHDOG_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(Watchdog(m, 300*time.Millisecond).Run())
	}
	os.Exit(Watchdog(m, time.Minute).Run())
}

// blockedInWatchdogChild hangs, as a test waiting for an answer that never
// comes.
func blockedInWatchdogChild() { select {} }

// The child half of TestWatchdogDumpsAndFails: run alone by that test.
func TestWatchdogChildHangs(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("the child half of TestWatchdogDumpsAndFails")
	}
	blockedInWatchdogChild()
}

// A hanging test makes the binary fail within the bound, with the stack of
// the goroutine that hangs on stderr.
func TestWatchdogDumpsAndFails(t *testing.T) {
	cmd := StartSelf(t, childEnv, "-test.run=^TestWatchdogChildHangs$", "-test.count=2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(Bound):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the child was not stopped within %v", Bound)
	}
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v; stderr:\n%s", err, stderr.String())
	assert.Equal(t, 2, exit.ExitCode())
	assert.GreaterOrEqual(t, time.Since(start), 600*time.Millisecond, "the bound is per -count run (2 × 300ms)")
	for _, want := range []string{"testutil.Watchdog: the tests ran longer than 600ms", "blockedInWatchdogChild", "goroutine "} {
		assert.Contains(t, stderr.String(), want)
	}
}

func TestWatchdogBound(t *testing.T) {
	for _, c := range []struct {
		env   string
		count uint
		want  time.Duration
	}{
		{"", 1, time.Minute}, {"", 0, time.Minute}, {"", 5, 5 * time.Minute},
		{"90s", 5, 90 * time.Second}, {"nonsense", 2, 2 * time.Minute}, {"-1m", 1, time.Minute},
	} {
		assert.Equal(t, c.want, watchdogBound(time.Minute, c.env, c.count), "env %q count %d", c.env, c.count)
	}
}
