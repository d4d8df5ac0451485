package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

// What must hold: HC's addUser for a terminal that is offline is answered
// with success, recorded as pending, and the person is on the terminal
// once it comes back — no resend from HC; a later deleteUser while it is
// offline again is delivered the same way.
func TestAddUserForOfflineTerminalArrivesWhenItIsBack(t *testing.T) {
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-app-id", "iot", "-app-secret", "iot-secret", "-hm", "1=wsterm",
		"-simulate", "1", "-data", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	b := runBridge(t, cfg, io.Discard)

	c, cc := context.WithTimeout(context.Background(), 20*time.Second)
	defer cc()
	client := &hciottest.Client{BaseURL: "http://" + b.ExtAPIAddr, AppID: "iot", AppSecret: "iot-secret"}
	_, _, err = client.GetToken(c)
	require.NoError(t, err)
	ok := func(path string, body map[string]any) {
		t.Helper()
		env, err := client.Post(c, path, body)
		require.NoError(t, err)
		require.Equal(t, 0, env.Code, "%s: %s", path, env.Msg)
	}
	gate := hciottest.MachineSpec{Code: "sim-1", ExtID: "e1", Community: community, Name: "大门", HmID: "1", LocationType: "1000", LocationObjID: community}
	ok("/extApi/machine/addMachine", hciottest.AddMachine(gate, "t1"))
	dev, found := b.Server.Device("sim-1")
	require.True(t, found)

	sim := b.Terminals.terminal("sim-1")
	sim.Disconnect()
	require.Eventually(t, func() bool { st, err := dev.Status(c); return err == nil && !st.Online }, 10*time.Second, 10*time.Millisecond)

	zhang := hciottest.Resident{ID: "u-1", Name: "张三", Face: hciottest.FaceJPEG}
	start := time.Now()
	ok("/extApi/user/addUser", hciottest.AddUser(zhang, gate, time.Now(), "t2"))
	assert.Less(t, time.Since(start), 2*time.Second, "answered at once, not after a command timeout")
	ref := accessctl.DeviceRef{Platform: hciot.Platform, ID: "sim-1"}
	person := accessctl.PersonRef{Platform: hciot.Platform, ID: "u-1"}
	st, known := b.Reconciler.Status(ref, person)
	require.True(t, known)
	assert.NotEqual(t, accessctl.SyncApplied, st.State, "not on the terminal yet")
	_, on := b.Terminals.holds("sim-1", "u-1")
	require.False(t, on)

	sim.Reconnect()
	require.Eventually(t, func() bool { _, on := b.Terminals.holds("sim-1", "u-1"); return on }, 15*time.Second, 10*time.Millisecond,
		"the grant reached the terminal when it came back")
	require.Eventually(t, func() bool { st, _ := b.Reconciler.Status(ref, person); return st.State == accessctl.SyncApplied }, 5*time.Second, 10*time.Millisecond)

	// Offline again: the delete waits for it the same way.
	sim.Disconnect()
	require.Eventually(t, func() bool { st, err := dev.Status(c); return err == nil && !st.Online }, 10*time.Second, 10*time.Millisecond)
	ok("/extApi/user/deleteUser", hciottest.DeleteUser(zhang, gate, "t3"))
	sim.Reconnect()
	require.Eventually(t, func() bool { _, on := b.Terminals.holds("sim-1", "u-1"); return !on }, 15*time.Second, 10*time.Millisecond,
		"the delete reached the terminal when it came back")
}
