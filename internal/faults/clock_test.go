package faults

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
)

type stdAnswer struct {
	Code int             `json:"code"`
	Msg  string          `json:"message"`
	Data json.RawMessage `json:"data"`
}

func postJSON(t *testing.T, url string, body any) stdAnswer {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var a stdAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

// What must hold (stdproto): a terminal whose clock is decades off signs
// its /connect with that time; by default (no skew window, spec D.12) it
// is accepted, its keepalives are answered, and its online event is
// stamped with our receipt time. The window, when a host turns it on,
// refuses it with a clear code.
func TestStdprotoClockJumpConnectAccepted(t *testing.T) {
	for _, clock := range []time.Time{time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)} {
		e := newStdEnv(t, stdproto.WithOfflineAfter(5*time.Second))
		const sn, ip, mac = "CLK-STD1", "127.0.0.1", "00-16-EA-AE-3D-41"
		require.NoError(t, e.edge.Provision(stdproto.TerminalConfig{SN: sn, Addr: "127.0.0.1:9"}))
		sign, err := stdproto.Sign("md5", clock.Unix(), mac, sn, ip)
		require.NoError(t, err)
		before := time.Now()
		a := postJSON(t, "http://"+e.addr+stdproto.PathConnect, map[string]any{"sn": sn, "time": strconv.FormatInt(clock.Unix(), 10),
			"ip": ip, "mac": mac, "keepalive": 30, "signMethod": "md5", "sign": sign})
		require.Equal(t, 0, a.Code, "connect with clock %s accepted: %s", clock, a.Msg)
		var data stdproto.ConnectData
		require.NoError(t, json.Unmarshal(a.Data, &data))
		require.NotEmpty(t, data.Token)
		ka := postJSON(t, "http://"+e.addr+stdproto.PathKeepalive, map[string]any{"token": data.Token})
		assert.Equal(t, 0, ka.Code, "keepalive answered")

		on := e.sink.waitN(t, accessctl.KindOnline, sn, 1, 5*time.Second)
		assert.Equal(t, accessctl.TimeReceipt, on.TimeSource)
		assert.WithinDuration(t, before, on.ReceivedAt, 5*time.Second, "stamped by receipt, not by the device's %s", clock)
		dev, err := e.edge.Terminal(sn)
		require.NoError(t, err)
		waitStatus(t, dev, true, time.Second)

		strict := newStdEnv(t, stdproto.WithClockSkew(5*time.Minute))
		require.NoError(t, strict.edge.Provision(stdproto.TerminalConfig{SN: sn, Addr: "127.0.0.1:9"}))
		a = postJSON(t, "http://"+strict.addr+stdproto.PathConnect, map[string]any{"sn": sn, "time": strconv.FormatInt(clock.Unix(), 10),
			"ip": ip, "mac": mac, "keepalive": 30, "signMethod": "md5", "sign": sign})
		assert.NotEqual(t, 0, a.Code, "the opt-in window refuses it")
	}
}
