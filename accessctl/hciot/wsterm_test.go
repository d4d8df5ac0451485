package hciot_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// HC's sequence against the WebSocket terminal driver and two simulated
// terminals: the people really arrive on and leave the terminals.
func TestHCSequenceOnWSTerminals(t *testing.T) {
	terms := wsterm.NewServer()
	defer terms.Close()
	tsrv := httptest.NewServer(terms)
	defer tsrv.Close()
	reg := &accessctl.Registry{}
	reg.Register("wsterm", terms)
	url := "ws" + strings.TrimPrefix(tsrv.URL, "http") + "/"
	sims := map[string]*wstermtest.Terminal{}
	for _, sn := range []string{gate.Code, unitDoor.Code} {
		sims[sn] = wstermtest.NewTerminal(url, wstermtest.WithSN(sn))
		defer sims[sn].Close()
		require.NoError(t, sims[sn].WaitRegistered(ctx(t)))
		waitOnline(t, terms, sn, true)
	}

	srv, err := hciot.NewServer(hciot.WithApp(iotAppID, iotAppSecret), hciot.WithRegistry(reg), hciot.WithDriver("hm-1", "wsterm"))
	require.NoError(t, err)
	defer srv.Close()
	web := httptest.NewServer(srv)
	defer web.Close()
	hc := &hciottest.Client{BaseURL: web.URL + "/", AppID: iotAppID, AppSecret: iotAppSecret, HTTP: web.Client()}
	ok := func(path string, body map[string]any) {
		t.Helper()
		env, err := hc.Post(ctx(t), path, body)
		require.NoError(t, err)
		require.Equal(t, 0, env.Code, "%s: %s", path, env.Msg)
		require.Equal(t, body["taskId"], env.TaskID())
	}
	_, _, err = hc.GetToken(ctx(t))
	require.NoError(t, err)
	ok("/extApi/community/addCommunity", hciottest.AddCommunity(hciottest.CommunitySpec{ID: community, Name: "老九学堂", Address: "西宁", CityCode: "630100"}, "w1"))
	ok("/extApi/machine/addMachine", hciottest.AddMachine(gate, "w2"))
	ok("/extApi/machine/addMachine", hciottest.AddMachine(unitDoor, "w3"))
	now := time.Now()
	for i, r := range residents {
		ok("/extApi/user/addUser", hciottest.AddUser(r, gate, now, "wa"+string(rune('0'+i))))
	}
	ok("/extApi/user/addUser", hciottest.AddUser(residents[0], unitDoor, now, "wb"))
	for _, r := range residents {
		u, on := sims[gate.Code].User(r.ID)
		assert.True(t, on, r.ID)
		assert.Equal(t, r.Name, u.Name)
	}

	env, err := hc.Post(ctx(t), "/extApi/machine/openDoor", hciottest.OpenDoor(gate, "wo"))
	require.NoError(t, err)
	assert.Equal(t, -1, env.Code, "the terminal protocol has no remote open")

	del := hciottest.DeleteUser(residents[0], gate, "wd")
	ok("/extApi/user/deleteUser", del)
	ok("/extApi/user/deleteUser", del)
	_, on := sims[gate.Code].User(residents[0].ID)
	assert.False(t, on)
	_, on = sims[unitDoor.Code].User(residents[0].ID)
	assert.False(t, on, "the owner delete reached the unit door through the ledger")
	_, on = sims[gate.Code].User(residents[1].ID)
	assert.True(t, on)

	// A terminal that is off the network: HC gets -1 and its resend acts.
	sims[unitDoor.Code].Disconnect()
	waitOnline(t, terms, unitDoor.Code, false)
	add := hciottest.AddUser(residents[2], unitDoor, now, "wr")
	env, err = hc.Post(ctx(t), "/extApi/user/addUser", add)
	require.NoError(t, err)
	assert.Equal(t, -1, env.Code)
	assert.Contains(t, env.Msg, "offline")
	sims[unitDoor.Code].Reconnect()
	require.NoError(t, sims[unitDoor.Code].WaitRegistered(ctx(t)))
	waitOnline(t, terms, unitDoor.Code, true)
	ok("/extApi/user/addUser", add)
	_, on = sims[unitDoor.Code].User(residents[2].ID)
	assert.True(t, on)
}

// waitOnline waits until the driver sees the terminal on- or offline (the
// simulator's registration can be acknowledged a moment before).
func waitOnline(t *testing.T, terms *wsterm.Server, sn string, online bool) {
	t.Helper()
	dev, err := terms.Device(sn)
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := dev.Status(ctx(t))
		if st.Online == online {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never became online=%t", sn, online)
		time.Sleep(5 * time.Millisecond)
	}
}
