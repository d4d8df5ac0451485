package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/internal/testutil"
)

const childEnv = "MENJIN_STDGATEWAY_CHILD"

// logFile prints the child's stderr in a failure message.
type logFile string

func (f logFile) String() string { b, _ := os.ReadFile(string(f)); return string(b) }

// online reports whether the gateway's API (up or not yet) lists sn as online.
func online(api, sn string) bool {
	resp, err := apiClient.Get(api + "/devices")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var devs []struct {
		SN     string `json:"sn"`
		Online bool   `json:"online"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&devs) != nil {
		return false
	}
	for _, d := range devs {
		if d.SN == sn && d.Online {
			return true
		}
	}
	return false
}

// What must hold: a card granted through the API is taken off the terminal
// when the user is deleted, even if the gateway was killed with SIGKILL in
// between and restarted on the same -data.
func TestKill9StillRemovesCards(t *testing.T) {
	const sn, card = "T-K9-0001", "777342461"
	listen, apiAddr, termAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	api := "http://" + apiAddr
	logs := logFile(filepath.Join(t.TempDir(), "gateway.log"))
	args := []string{"-listen", listen, "-api", apiAddr, "-terminal", sn + "=" + termAddr, "-data", t.TempDir(),
		"-timeout", "2s", "-keepalive", "200ms", "-offline-after", "1s"}

	gw := testutil.StartSelfLogged(t, childEnv, string(logs), args...)
	defer func() { _ = gw.Process.Kill(); _, _ = gw.Process.Wait() }()
	sim, err := stdprototest.Start(stdprototest.Config{SN: sn, Edge: listen, Listen: termAddr, Keepalive: 200 * time.Millisecond})
	require.NoError(t, err)
	defer sim.Close()
	require.Eventually(t, func() bool { return online(api, sn) }, 10*time.Second, 50*time.Millisecond, "%s", logs)

	user := `{"userId":"u-42","name":"Ann","cards":["` + card + `"]}`
	require.Eventually(t, func() bool { c, _ := call(t, "POST", api+"/devices/"+sn+"/users", user); return c == 200 },
		10*time.Second, 50*time.Millisecond, "the edge's link to the terminal never came up: %s", logs)
	p, ok := sim.Card(card)
	require.True(t, ok, "the terminal got the card")
	assert.EqualValues(t, stdproto.PermAdd, p.Type, "syncPermissions type 1")

	require.NoError(t, gw.Process.Signal(syscall.SIGKILL))
	_, _ = gw.Process.Wait()
	gw = testutil.StartSelfLogged(t, childEnv, string(logs), args...)
	// The terminal's token died with the gateway: it connects again.
	require.Eventually(t, func() bool { return online(api, sn) }, 15*time.Second, 50*time.Millisecond, "%s", logs)
	_, ok = sim.Card(card)
	require.True(t, ok, "the card is still on the terminal before the delete")

	require.Eventually(t, func() bool { c, _ := call(t, "DELETE", api+"/devices/"+sn+"/users/u-42", ""); return c == 200 },
		10*time.Second, 50*time.Millisecond, "%s", logs)
	_, ok = sim.Card(card)
	assert.False(t, ok, "the restarted gateway deleted the card it pushed before the kill (syncPermissions type 2)")

	require.NoError(t, gw.Process.Signal(syscall.SIGTERM))
	_, _ = gw.Process.Wait()
}
