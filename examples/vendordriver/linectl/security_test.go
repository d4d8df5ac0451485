package linectl_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/examples/vendordriver/linectl"
	"github.com/menjin/menjin/examples/vendordriver/linectl/linectltest"
)

func server(t *testing.T, opts ...linectl.Option) *linectl.Server {
	srv, err := linectl.NewServer(append([]linectl.Option{linectl.WithDevice("sn-1", "s3cret")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// dialHello registers by hand and returns what the server answered ("" when
// it closed the socket).
func dialHello(t *testing.T, addr, hello string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write([]byte(hello))
	require.NoError(t, err)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

// A wrong secret, an unknown serial, another verb first or an oversized
// line get no registration; the right secret does.
func TestRegistrationNeedsTheSecret(t *testing.T) {
	srv := server(t)
	for _, hello := range []string{"HELLO sn-1 wrong\n", "HELLO sn-2 s3cret\n", "PING\n",
		"HELLO sn-1 " + strings.Repeat("x", 600) + "\n"} {
		assert.Empty(t, dialHello(t, srv.Addr(), hello), "%.30q", hello)
	}
	assert.Equal(t, "OK 0\n", dialHello(t, srv.Addr(), "HELLO sn-1 s3cret\n"))
}

// Unregistered sockets are bounded: past the limit the server closes new
// ones at once, and a registered device still gets in once they go.
func TestPreAuthBounded(t *testing.T) {
	srv := server(t)
	var idle []net.Conn
	for range 40 { // more than the server takes before auth
		c, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	var closedAtOnce atomic.Int32
	var wg sync.WaitGroup
	for _, c := range idle { // each waits 300 ms at most, all at once
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
				closedAtOnce.Add(1)
			}
		})
	}
	wg.Wait()
	assert.GreaterOrEqual(t, int(closedAtOnce.Load()), 8, "sockets past the pre-auth limit are closed")
	for _, c := range idle {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return dialHello(t, srv.Addr(), "HELLO sn-1 s3cret\n") == "OK 0\n" },
		5*time.Second, 20*time.Millisecond)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A command too long for the wire is refused as invalid, not sent (the
// device would drop the connection).
func TestOversizedCommandIsInvalid(t *testing.T) {
	srv := server(t, linectl.WithSink(accessctltest.NewSink()))
	sim, err := linectltest.Start(srv.Addr(), "sn-1", "s3cret")
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	dev, err := srv.Device("sn-1")
	require.NoError(t, err)
	waitOnline(t, dev)
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p"}, Name: strings.Repeat("n", 600),
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "1"}}}
	assert.ErrorIs(t, dev.PutGrant(context.Background(), g), accessctl.ErrInvalid)
	g.Name = "short"
	require.NoError(t, dev.PutGrant(context.Background(), g), "the connection survived")
	_, err = srv.Device("sn-unknown")
	assert.ErrorIs(t, err, accessctl.ErrNotFound)
}

// Devices lists every provisioned device, online or not.
func TestDevices(t *testing.T) {
	srv := server(t, linectl.WithDevice("sn-2", "other"))
	sim, err := linectltest.Start(srv.Addr(), "sn-1", "s3cret")
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	dev, err := srv.Device("sn-1")
	require.NoError(t, err)
	waitOnline(t, dev)
	sts, err := srv.Devices(context.Background())
	require.NoError(t, err)
	online := map[string]bool{}
	for _, st := range sts {
		online[st.Device.ID] = st.Online
	}
	assert.Equal(t, map[string]bool{"sn-1": true, "sn-2": false}, online)
}
