package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
)

// -terminals with -allow and -tls-cert/-tls-key: terminals connect with
// wss:// (a client pinning the certificate), only listed serials register.
func TestTerminalsAllowListOverTLS(t *testing.T) {
	cert, key, roots := testutil.SelfSigned(t)
	allow := filepath.Join(t.TempDir(), "allow.txt")
	require.NoError(t, os.WriteFile(allow, []byte("# HC machineCodes\nM-1\n"), 0o600))
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-app-id", "a", "-app-secret", "s", "-hm", "1=wsterm",
		"-terminals", "127.0.0.1:0", "-allow", allow, "-tls-cert", cert, "-tls-key", key, "-data", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	b := runBridge(t, cfg, io.Discard)

	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{RootCAs: roots}}
	register := func(sn string) string {
		ws, _, err := d.Dial("wss://"+b.TerminalsAddr+"/", nil)
		require.NoError(t, err)
		defer ws.Close()
		msg, _ := json.Marshal(map[string]any{"code": "205", "data": map[string]string{"sn": sn}})
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, msg))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, ack, err := ws.ReadMessage()
		require.NoError(t, err)
		return string(ack)
	}
	assert.Contains(t, register("M-1"), `"code":"200"`)
	assert.Contains(t, register("M-2"), `"code":"500"`, "not on the list")
	_, _, err = websocket.DefaultDialer.Dial("ws://"+b.TerminalsAddr+"/", nil)
	assert.Error(t, err, "no cleartext terminals on a TLS listener")
}

func TestTerminalFlagsCheck(t *testing.T) {
	base := []string{"-app-id", "a", "-app-secret", "s"}
	for _, bad := range [][]string{
		{"-tls-cert", "c.pem"},
		{"-tls-key", "k.pem"},
		{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-simulate", "1"},
	} {
		_, err := parseFlags(append(base, bad...), io.Discard)
		assert.Error(t, err, "%q", bad)
	}
}

// The terminals -simulate starts are admitted even when -allow lists others.
func TestSimulatedTerminalsPassTheAllowList(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "allow.txt")
	require.NoError(t, os.WriteFile(allow, []byte("M-1\n"), 0o600))
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-app-id", "a", "-app-secret", "s", "-hm", "1=wsterm",
		"-allow", allow, "-simulate", "2", "-data", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	b := runBridge(t, cfg, io.Discard) // fails if sim-1 or sim-2 could not register
	assert.Len(t, b.Terminals.Terminals(), 2)
}
