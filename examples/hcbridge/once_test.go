package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/internal/testutil"
)

// What must hold: a bridge killed with SIGKILL after HC acknowledged a pass
// and before its outbox recorded the delivery does not upload that pass
// again when restarted (the outbox redelivers it; the sent log in -data
// knows HC has it). The crash point is the example's env-gated hook.
func TestKill9AfterHCAckUploadsOnce(t *testing.T) {
	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode)
	defer hc.Close()
	api, terminalsAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	args := []string{"-listen", api, "-terminals", terminalsAddr, "-app-id", "iot", "-app-secret", "iot-secret", "-hm", "1=wsterm",
		"-hc-app-id", hcAppID, "-hc-security-code", hcSecurityCode, "-hc-open-door-url", hc.OpenDoorURL(),
		"-data", t.TempDir()}
	logFile := filepath.Join(t.TempDir(), "stderr")

	t.Setenv(crashAfterUploadEnv, "1")
	child := testutil.StartSelfLogged(t, childEnv, logFile, args...)
	require.NoError(t, os.Unsetenv(crashAfterUploadEnv)) // the restart runs without the hook
	exited := make(chan error, 1)
	go func() { _, err := child.Process.Wait(); exited <- err }()
	defer func() { _ = child.Process.Kill() }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &hciottest.Client{BaseURL: "http://" + api, AppID: "iot", AppSecret: "iot-secret"}
	require.Eventually(t, func() bool { _, env, err := client.GetToken(ctx); return err == nil && env.Code == 0 },
		20*time.Second, 20*time.Millisecond, "the bridge did not start")
	m := hciottest.MachineSpec{Code: "ONCE-1", ExtID: "e1", Community: community, Name: "门",
		HmID: "1", LocationType: "1000", LocationObjID: community, Direction: "3306"}
	env, err := client.Post(ctx, "/extApi/machine/addMachine", hciottest.AddMachine(m, "m1"))
	require.NoError(t, err)
	require.Equal(t, 0, env.Code, env.Msg)

	term := wstermtest.NewTerminal("ws://"+terminalsAddr+"/", wstermtest.WithSN("ONCE-1"))
	defer func() { _ = term.Close() }()
	c, cancelPass := context.WithTimeout(ctx, 5*time.Second)
	_, _ = term.Pass(c, "u0", "0") // the bridge may die before or after answering: the outbox has it either way
	cancelPass()

	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee) || err == nil, "wait: %v", err)
		if ee != nil {
			st, ok := ee.Sys().(syscall.WaitStatus)
			require.True(t, ok && st.Signaled() && st.Signal() == syscall.SIGKILL, "the bridge died of %v, not the hook", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the crash hook did not fire: no upload was acknowledged")
	}
	count := func(user string) int {
		n := 0
		for _, u := range hc.UploadsTo(hciottest.OpenDoorLogPath) {
			if u.Field("machineCode") == "ONCE-1" && u.Field("userId") == user {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, count("u0"), "HC acknowledged the pass before the kill")

	child = testutil.StartSelfLogged(t, childEnv, logFile, args...)
	defer func() { _ = child.Process.Kill(); _, _ = child.Process.Wait() }()
	// A later pass (from the same terminal, reconnected: a new one would
	// restart its record ids) reaching HC shows the outbox went past the
	// redelivered one.
	require.Eventually(t, func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := term.Pass(c, "u1", "0")
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "the restarted bridge did not take a pass")
	require.Eventually(t, func() bool { return count("u1") >= 1 }, 20*time.Second, 20*time.Millisecond, "the later pass was not uploaded")
	assert.Equal(t, 1, count("u0"), "the pass HC had acknowledged was uploaded again after the restart")
	assert.Empty(t, hc.Refused())
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
}
