package thingmodel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var devC = Triple{ProductKey: "a1DoorPK001", DeviceName: "door-c", DeviceSecret: "secretC0123456789abcdef"}

// startLimited is startEmbedded with extra broker options.
func startLimited(t *testing.T, opts ...BrokerOption) *Broker {
	t.Helper()
	secrets := testSecrets()
	secrets[devC.Key()] = devC.DeviceSecret
	b, err := NewBroker(secrets, append([]BrokerOption{WithBrokerAddr("127.0.0.1:0")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func rawDial(t *testing.T, b *Broker) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.Addr(), 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// remainingLength encodes an MQTT variable-length integer.
func remainingLength(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// connectPacket is a signed MQTT 3.1.1 CONNECT for tr.
func connectPacket(t *testing.T, tr Triple, keepalive uint16) []byte {
	t.Helper()
	return connectWithWill(t, tr, keepalive, "")
}

// connectWithWill is connectPacket with a retained QoS 1 will on willTopic ("" for none).
func connectWithWill(t *testing.T, tr Triple, keepalive uint16, willTopic string) []byte {
	t.Helper()
	cred, err := Sign(tr, "", time.Now(), HMACSHA256)
	require.NoError(t, err)
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: keepalive,
			ClientIdentifier: cred.ClientID, UsernameFlag: true, Username: []byte(cred.Username),
			PasswordFlag: true, Password: []byte(cred.Password)}}
	if willTopic != "" {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, willTopic, []byte(`{"id":"1","params":{}}`)
		pk.Connect.WillQos, pk.Connect.WillRetain = 1, true
	}
	var buf bytes.Buffer
	require.NoError(t, pk.ConnectEncode(&buf))
	return buf.Bytes()
}

// rawLogin sends a CONNECT and requires a successful CONNACK.
func rawLogin(t *testing.T, b *Broker, tr Triple, keepalive uint16) net.Conn {
	t.Helper()
	c := rawDial(t, b)
	_, err := c.Write(connectPacket(t, tr, keepalive))
	require.NoError(t, err)
	ack := make([]byte, 4)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadFull(c, ack)
	require.NoError(t, err)
	require.Equal(t, []byte{0x20, 0x02, 0x00, 0x00}, ack, "CONNACK accepted")
	return c
}

// waitClosed reads until the peer closes (or bound passes) and returns
// what it sent and how long the close took.
func waitClosed(t *testing.T, c net.Conn, bound time.Duration) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(bound)))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the broker kept the socket open for %v", bound)
	}
	return got, time.Since(start)
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// Bound: a CONNECT announcing more than DefaultMaxPacketSize (256 KiB) is
// refused from its fixed header; the broker allocates far less than the
// 200 MiB announced and closes within 2 s.
func TestOversizedConnectRefusedUnread(t *testing.T) {
	b := startLimited(t)
	before := totalAlloc()
	c := rawDial(t, b)
	_, err := c.Write(append([]byte{0x10}, remainingLength(200<<20)...))
	require.NoError(t, err)
	_, _ = c.Write(bytes.Repeat([]byte{'x'}, 4096)) // the start of a body the broker must not wait for
	got, took := waitClosed(t, c, 2*time.Second)
	assert.Empty(t, got, "no CONNACK")
	assert.Less(t, took, 2*time.Second)
	assert.Less(t, totalAlloc()-before, uint64(32<<20), "the announced 200 MiB was never allocated")
	assert.Equal(t, 0, b.Stats().Online)
}

// Bound: an authenticated device announcing a 100 MiB PUBLISH is
// disconnected from the header, without a PUBACK and without the broker
// allocating the body.
func TestOversizedPublishNotAcknowledged(t *testing.T) {
	b := startLimited(t)
	c := rawLogin(t, b, devA, 60)
	before := totalAlloc()
	topic := EventTopic(devA.Key(), "passEvent")
	hdr := append([]byte{0x32}, remainingLength(100<<20)...) // PUBLISH, QoS 1
	hdr = append(hdr, byte(len(topic)>>8), byte(len(topic)))
	hdr = append(hdr, topic...)
	hdr = append(hdr, 0x00, 0x01) // packet id
	_, err := c.Write(hdr)
	require.NoError(t, err)
	_, _ = c.Write(bytes.Repeat([]byte{'x'}, 64<<10))
	got, _ := waitClosed(t, c, 3*time.Second)
	assert.NotContains(t, got, byte(0x40), "no PUBACK")
	assert.Less(t, totalAlloc()-before, uint64(32<<20), "the announced 100 MiB was never allocated")
}

// Bound: WithConnectTimeout(300 ms) — a socket that sends nothing is
// closed within 300 ms (+1 s of slack for a loaded machine).
func TestSilentSocketClosedAfterConnectTimeout(t *testing.T) {
	b := startLimited(t, WithConnectTimeout(300*time.Millisecond))
	c := rawDial(t, b)
	_, took := waitClosed(t, c, 5*time.Second)
	assert.GreaterOrEqual(t, took, 250*time.Millisecond, "not closed before its deadline")
	assert.Less(t, took, 1300*time.Millisecond)
	require.Eventually(t, func() bool { return b.Stats().Pending == 0 }, 2*time.Second, 10*time.Millisecond)
}

// Bound: with WithMaxKeepAlive(2 s), a session that announced keepalive 0
// (none) or 30 s is closed after 3 s of silence (1.5 × keepalive, MQTT
// 3.1.2.10), +1 s slack; a session that pings stays.
func TestIdleSessionClosedAtOneAndAHalfKeepAlive(t *testing.T) {
	b := startLimited(t, WithMaxKeepAlive(2*time.Second))
	type result struct {
		ka   uint16
		took time.Duration
	}
	conns := map[uint16]net.Conn{0: rawLogin(t, b, devA, 0), 30: rawLogin(t, b, devB, 30)}
	results := make(chan result, len(conns))
	for ka, c := range conns {
		go func() {
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(6 * time.Second))
			_, _ = io.Copy(io.Discard, c)
			results <- result{ka, time.Since(start)}
		}()
	}
	pinger := rawLogin(t, b, devC, 2)
	for i := 0; i < 8; i++ {
		time.Sleep(500 * time.Millisecond)
		_, err := pinger.Write([]byte{0xC0, 0x00}) // PINGREQ
		require.NoError(t, err)
		resp := make([]byte, 2)
		require.NoError(t, pinger.SetReadDeadline(time.Now().Add(2*time.Second)))
		_, err = io.ReadFull(pinger, resp)
		require.NoError(t, err, "ping %d: a session that pings is not closed", i)
		assert.Equal(t, []byte{0xD0, 0x00}, resp)
	}
	for range conns {
		r := <-results
		assert.GreaterOrEqual(t, r.took, 2900*time.Millisecond, "keepalive %d: not closed early", r.ka)
		assert.Less(t, r.took, 4*time.Second, "keepalive %d: closed at 1.5 × the capped keepalive", r.ka)
	}
}

// flakyListener fails its first n accepts like a process out of descriptors.
type flakyListener struct {
	net.Listener
	n     int32
	calls atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.calls.Add(1) <= l.n {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Bound: after 8 EMFILE accepts (backoff 5 ms doubling: 1.3 s in all)
// the broker still accepts: a device logs in within 10 s.
func TestAcceptLoopSurvivesEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fl := &flakyListener{Listener: ln, n: 8}
	b := startLimited(t, WithBrokerListener(fl))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Dial(ctx, b.URL(), devA)
	require.NoError(t, err)
	defer d.Close()
	require.Eventually(t, func() bool { return b.Online(devA.Key()) }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(8), b.Stats().AcceptErrors)
	assert.Greater(t, fl.calls.Load(), int32(8))
}

// Bound: WithMaxPendingConnections(2) — a third socket that has not
// authenticated is closed at once; devices log in again once the idle
// ones are gone.
func TestUnauthenticatedConnectionsCapped(t *testing.T) {
	b := startLimited(t, WithMaxPendingConnections(2))
	idle1, idle2 := rawDial(t, b), rawDial(t, b)
	require.Eventually(t, func() bool { return b.Stats().Pending == 2 }, 2*time.Second, 5*time.Millisecond)
	third := rawDial(t, b)
	_, took := waitClosed(t, third, 2*time.Second)
	assert.Less(t, took, time.Second, "closed at once")
	assert.Equal(t, uint64(1), b.Stats().OverPending)

	_ = idle1.Close()
	_ = idle2.Close()
	require.Eventually(t, func() bool { return b.Stats().Pending == 0 }, 2*time.Second, 5*time.Millisecond)
	c := rawLogin(t, b, devA, 60)
	_ = c.Close()
	assert.Equal(t, 0, b.Stats().Pending, "an authenticated session does not count as pending")
}

// Bound: a device that leaves persistent sessions (clean session off) under
// ever new client ids does not grow the broker's client table past the
// session expiry (10 min by default; 1 s here, swept within 3 s).
func TestPersistentSessionsExpire(t *testing.T) {
	b := startLimited(t, func(c *brokerConfig) error { c.sessionExpiry = time.Second; return nil })
	ids := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		cred, err := Sign(devA, fmt.Sprintf("cycle-%d", i), time.Now(), HMACSHA256)
		require.NoError(t, err)
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: false, Keepalive: 60,
				ClientIdentifier: cred.ClientID, UsernameFlag: true, Username: []byte(cred.Username),
				PasswordFlag: true, Password: []byte(cred.Password)}}
		var buf bytes.Buffer
		require.NoError(t, pk.ConnectEncode(&buf))
		require.Equal(t, byte(0), connackCode(t, b, buf.Bytes()))
		ids = append(ids, cred.ClientID)
	}
	_, kept := b.srv.Clients.Get(ids[0])
	require.True(t, kept, "the persistent session outlives its connection at first")
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if _, ok := b.srv.Clients.Get(id); ok {
				return false
			}
		}
		return true
	}, 5*time.Second, 50*time.Millisecond, "expired sessions are removed")
}
