package gateway

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckAPIAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8081": true,
		"127.0.0.2:0":    true, // all of 127/8 is this machine
		"[::1]:8081":     true,
		"localhost:8081": true,
		"LOCALHOST:1":    true,
		"0.0.0.0:8081":   false,
		":8081":          false, // every interface
		"[::]:8081":      false,
		"192.168.1.5:80": false,
		"gw.example:80":  false, // a name may resolve anywhere
		"127.0.0.1":      false, // no port: refused as malformed
	} {
		err := CheckAPIAddr(addr, "")
		if ok {
			assert.NoError(t, err, addr)
		} else {
			assert.Error(t, err, addr)
		}
	}
	err := CheckAPIAddr("0.0.0.0:8081", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), EnvAPIToken, "the message says how to fix it")
	assert.NoError(t, CheckAPIAddr("0.0.0.0:8081", "a-long-enough-token-123"), "a token allows any address")
	assert.Error(t, CheckAPIAddr("0.0.0.0:8081", "short"), "a token too short to matter")
}

func TestAPIToken(t *testing.T) {
	t.Setenv(EnvAPIToken, "from-env-token-0123456789")
	assert.Equal(t, "from-flag-token-0123456789", APIToken("from-flag-token-0123456789"), "the flag wins")
	assert.Equal(t, "from-env-token-0123456789", APIToken(""))
}

func TestStartRefusesOpenAPI(t *testing.T) {
	_, err := Start(Config{Listen: "127.0.0.1:0", API: "0.0.0.0:0"})
	require.Error(t, err, "no token, every interface")
}

// Every read a client controls is bounded.
func TestServerBounds(t *testing.T) {
	for name, s := range map[string]*http.Server{"http": NewHTTPServer(http.NotFoundHandler()), "ws": NewWSServer(http.NotFoundHandler())} {
		assert.Positive(t, s.ReadHeaderTimeout, name)
		assert.Positive(t, s.IdleTimeout, name)
		assert.Positive(t, s.MaxHeaderBytes, name)
	}
	assert.Positive(t, NewHTTPServer(nil).ReadTimeout, "request bodies are read in bounded time")
	assert.Zero(t, NewWSServer(nil).ReadTimeout, "a WebSocket would keep the deadline after the upgrade")
}
