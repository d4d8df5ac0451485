package intercom

// Issue 13, secure by default: who may open the door is decided by socket
// source addresses, resources are bounded before anyone is trusted, and the
// registrar is no open relay.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/menjin/menjin/accessctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawUDP is a UDP socket on ip (127.0.0.2 plays a foreign host).
func rawUDP(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends msg to port on 127.0.0.1 and returns the first final
// response (provisional ones skipped), or "" after 3 s.
func exchange(t *testing.T, c *net.UDPConn, port int, msg string) string {
	t.Helper()
	_, err := c.WriteTo([]byte(msg), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	require.NoError(t, err)
	return readFinal(t, c)
}

func readFinal(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 8192)
	deadline := time.Now().Add(3 * time.Second)
	for {
		require.NoError(t, c.SetReadDeadline(deadline))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return ""
		}
		m := string(buf[:n])
		if strings.HasPrefix(m, "SIP/2.0 1") {
			continue
		}
		if strings.HasPrefix(m, "SIP/2.0 ") {
			return m
		}
	}
}

func statusOf(res string) int {
	f := strings.Fields(res)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// sipMsg builds a request; body may be empty.
func sipMsg(c *net.UDPConn, method, ruri, callID, fromTag, toTag string, cseq int, extra, ctype, body string) string {
	la := c.LocalAddr().(*net.UDPAddr)
	to := "<" + ruri + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d-%s\r\n", la, callID, cseq, method)
	fmt.Fprintf(&b, "From: <sip:mallory@%s>;tag=%s\r\n", la.IP, fromTag)
	fmt.Fprintf(&b, "To: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n", to, callID, cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:mallory@%s>\r\n", la)
	b.WriteString(extra)
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

func offerFrom(ip string) string {
	return string(BuildOffer(OfferParams{User: "x", IP: ip, SessionID: 1, AudioPort: 40000}))
}

func TestParseAllowList(t *testing.T) {
	ps, err := ParseAllowList(" 127.0.0.1/32, 10.1.2.3 ,::1, 192.168.7.9/24,::ffff:10.0.0.0/104")
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.2.3/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("10.0.0.0/8")}, ps)
	for _, bad := range []string{"", " , ", "10.0.0.0/33", "example.com", "1.2.3.4/x"} {
		_, err := ParseAllowList(bad)
		assert.ErrorIs(t, err, accessctl.ErrInvalid, bad)
	}
}

func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"127.0.0.1/32", "127.0.0.1/32,::1", "10.0.0.0/8, 192.168.1.5", "::ffff:1.2.3.4/120", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseAllowList(s)
		if err != nil {
			if !errors.Is(err, accessctl.ErrInvalid) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(ps) == 0 || len(ps) > maxAllowEntries {
			t.Fatalf("%d prefixes", len(ps))
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("prefix %v", p)
			}
		}
	})
}

// An INFO with the dialog's Call-ID and both tags, sent from another
// address, must not open: only the dialog's peer counts.
func TestForgedInfoFromForeignHostDoesNotUnlock(t *testing.T) {
	door := newDoorRig(t, WithAllow(netip.MustParsePrefix("127.0.0.0/8")))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	call.mu.Lock()
	remoteTag := call.remoteTag
	call.mu.Unlock()
	body := `{"req":"unlock","reqsn":77,"sip":"room1202"}`
	forged := func(c *net.UDPConn, cseq int) string {
		return sipMsg(c, "INFO", door.URI(), call.CallID(), call.localTag, remoteTag, cseq, "", "application/json", body)
	}
	// CSeq far above the resident's: the dialog's CSeq rule must not be what refuses.
	foreign := rawUDP(t, "127.0.0.2")
	got := exchange(t, foreign, door.port, forged(foreign, 2000000000))
	assert.Equal(t, 403, statusOf(got), got)
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 0, door.opened.Load(), "the forged INFO opened the door")
	assert.EqualValues(t, 1, door.Stats().Foreign)

	// The same message from the dialog's address is accepted: the refusal
	// above was the source, nothing else.
	same := rawUDP(t, "127.0.0.1")
	got = exchange(t, same, door.port, forged(same, 2000000001))
	assert.Equal(t, 200, statusOf(got), got)
	assert.Contains(t, got, `"status":200`)
	assert.True(t, door.event(t).Granted())
	assert.EqualValues(t, 1, door.opened.Load())
}

// Without WithAllow a door takes INVITEs only from loopback 127.0.0.1/::1.
func TestDefaultAllowListRefusesOtherHosts(t *testing.T) {
	door := newDoorRig(t)
	c := rawUDP(t, "127.0.0.2")
	got := exchange(t, c, door.port, sipMsg(c, "INVITE", door.URI(), "anon-1", "a1", "", 1, "", "application/sdp", offerFrom("127.0.0.2")))
	assert.Equal(t, 403, statusOf(got), got)
	assert.Empty(t, door.Calls())
	assert.EqualValues(t, 1, door.Stats().NotAllowed)
	_, err := UnlockOnce(testCtx(t), "127.0.0.1:0", door.URI())
	require.NoError(t, err, "loopback is allowed by default")
}

// The library default caps unlocks at 3 per call.
func TestDefaultUnlockCapPerCall(t *testing.T) {
	door := newDoorRig(t)
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err := call.Unlock(ctx)
		require.NoError(t, err, "unlock %d", i+1)
	}
	_, err = call.Unlock(ctx)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, StatusForbidden, se.Status)
	assert.EqualValues(t, 3, door.opened.Load())
}

// Four INVITEs answered and never ACKed (from four hosts) do not keep a
// legitimate caller out, and Timer H (64*T1) frees them.
func TestUnackedInvitesDoNotStarveCallers(t *testing.T) {
	door := newDoorRig(t, WithAllow(netip.MustParsePrefix("127.0.0.0/8")), WithTimerT1(25*time.Millisecond))
	for i := 2; i <= 5; i++ {
		ip := "127.0.0." + strconv.Itoa(i)
		c := rawUDP(t, ip)
		got := exchange(t, c, door.port, sipMsg(c, "INVITE", door.URI(), "noack-"+ip, "t", "", 1, "", "application/sdp", offerFrom(ip)))
		require.Equal(t, 200, statusOf(got), got)
	}
	// A source gets at most two un-ACKed INVITEs.
	c := rawUDP(t, "127.0.0.2")
	got := exchange(t, c, door.port, sipMsg(c, "INVITE", door.URI(), "noack-b", "t", "", 1, "", "application/sdp", offerFrom("127.0.0.2")))
	require.Equal(t, 200, statusOf(got), got)
	got = exchange(t, c, door.port, sipMsg(c, "INVITE", door.URI(), "noack-c", "t", "", 1, "", "application/sdp", offerFrom("127.0.0.2")))
	require.Equal(t, 486, statusOf(got), got)
	require.Len(t, door.Calls(), 5)

	res, err := UnlockOnce(testCtx(t), "127.0.0.1:0", door.URI(), WithUser("room1202"))
	require.NoError(t, err, "the legitimate caller was starved")
	assert.True(t, res.OK())

	require.Eventually(t, func() bool { return len(door.Calls()) == 0 }, 64*25*time.Millisecond+3*time.Second,
		20*time.Millisecond, "Timer H released the un-ACKed calls")
	door.mu.Lock()
	pending, all := len(door.pending), door.pendingAll
	door.mu.Unlock()
	assert.Zero(t, pending)
	assert.Zero(t, all)
}

// RFC 4475 §3.1.2.5-style invalid requests and §3.3.x unsupported ones.
func TestRFC4475InvalidRequests(t *testing.T) {
	door := newDoorRig(t)
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw"})
	require.NoError(t, err)
	defer reg.Close()
	for _, target := range []struct {
		name string
		port int
		uri  string
	}{{"door", door.port, door.URI()}, {"registrar", reg.port, "sip:door1@" + reg.Addr()}} {
		t.Run(target.name, func(t *testing.T) {
			c := rawUDP(t, "127.0.0.1")
			twoCL := strings.Replace(sipMsg(c, "OPTIONS", target.uri, "cl-"+target.name, "t", "", 1, "", "text/plain", "abcd"),
				"Content-Length: 4\r\n", "Content-Length: 4\r\nContent-Length: 2\r\n", 1)
			got := exchange(t, c, target.port, twoCL)
			assert.Equal(t, 400, statusOf(got), got)

			scheme := sipMsg(c, "OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent", "sch-"+target.name, "t", "", 1, "", "", "")
			got = exchange(t, c, target.port, scheme)
			assert.Equal(t, 416, statusOf(got), got)

			req := "Require: nothingSupportedHere\r\n"
			if target.name == "registrar" {
				req = "Proxy-Require: nothingSupportedHere\r\n"
			}
			got = exchange(t, c, target.port, sipMsg(c, "OPTIONS", target.uri, "req-"+target.name, "t", "", 1, req, "", ""))
			assert.Equal(t, 420, statusOf(got), got)
			assert.Contains(t, got, "Unsupported: nothingSupportedHere")

			// Control: the same OPTIONS without the fault is answered 200.
			got = exchange(t, c, target.port, sipMsg(c, "OPTIONS", "sip:"+reg.Addr(), "ok-"+target.name, "t", "", 1, "", "", ""))
			assert.Equal(t, 200, statusOf(got), got)
		})
	}
}

func FuzzCheckRequest(f *testing.F) {
	f.Add("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKx\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\nContent-Length: 2\r\n\r\nabcd")
	f.Add("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKx\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	f.Add("INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKx\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nRequire: nothingSupportedHere, 100rel\r\nl: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		msg, err := sip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			return
		}
		if req, ok := msg.(*sip.Request); ok {
			rej, ok := checkRequest(req, "Require")
			if !ok && (rej.status < 400 || rej.status > 499) {
				t.Fatalf("status %d", rej.status)
			}
		}
	})
}

// A silent SIP-TCP connection is closed after the idle timeout.
func TestTCPIdleConnectionClosed(t *testing.T) {
	door := newDoorRig(t, WithTCPIdleTimeout(200*time.Millisecond))
	c, err := net.DialTimeout("tcp", door.Addr(), time.Second)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the door closed it, not our 5 s deadline: %v", err)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
}

// --- registrar: no open relay, unauthenticated calls challenged ---

func TestRegistrarRefusesRelayAndUnauthenticatedCalls(t *testing.T) {
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1", "room1": "pw2"})
	require.NoError(t, err)
	defer reg.Close()
	door := newDoorRig(t)
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(testCtx(t)))

	for _, ip := range []string{"127.0.0.2", "127.0.0.1"} {
		c := rawUDP(t, ip)
		// Foreign host or domain: never relayed, whoever asks.
		for i, ruri := range []string{"sip:victim@203.0.113.7:5060", "sip:victim@example.com"} {
			for _, m := range []string{"MESSAGE", "INVITE"} {
				body, ct := "hello", "text/plain"
				if m == "INVITE" {
					body, ct = offerFrom(ip), "application/sdp"
				}
				got := exchange(t, c, reg.port, sipMsg(c, m, ruri, fmt.Sprintf("relay-%s-%s-%d", ip, m, i), "t", "", 1, "", ct, body))
				assert.Equal(t, 403, statusOf(got), "%s to %s from %s: %s", m, ruri, ip, got)
			}
		}
		// Our own account, unauthenticated and not registered: challenged.
		for _, m := range []string{"MESSAGE", "INVITE"} {
			body, ct := "open", "text/plain"
			if m == "INVITE" {
				body, ct = offerFrom(ip), "application/sdp"
			}
			got := exchange(t, c, reg.port, sipMsg(c, m, "sip:door1@"+reg.Addr(), "own-"+ip+m, "t", "", 1, "", ct, body))
			assert.Equal(t, 407, statusOf(got), "%s from %s: %s", m, ip, got)
			assert.Contains(t, got, "Proxy-Authenticate: Digest")
		}
		// In-dialog requests for a call the registrar never authorised.
		got := exchange(t, c, reg.port, sipMsg(c, "INFO", "sip:door1@"+door.Addr(), "nodlg-"+ip, "t", "x", 2,
			"Route: <sip:"+reg.Addr()+";lr>\r\n", "application/json", `{"req":"unlock","reqsn":1}`))
		assert.Equal(t, 403, statusOf(got), got)
	}
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, door.Calls(), "nothing reached the door")
	assert.EqualValues(t, 0, door.opened.Load())
	assert.GreaterOrEqual(t, reg.Stats().RelayDenied, uint64(10))
}

// A digest computed for another Request-URI is refused although it is valid
// for that URI; the same digest for the right URI is accepted.
func TestRegistrarChecksDigestURI(t *testing.T) {
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1"}, WithExpiryRange(time.Second, time.Hour))
	require.NoError(t, err)
	defer reg.Close()
	c := rawUDP(t, "127.0.0.1")
	ruri := "sip:" + reg.Addr()
	register := func(cseq int, auth string) string {
		m := sipMsg(c, "REGISTER", ruri, "reg-uri", "t", "", cseq, auth, "", "")
		m = strings.Replace(m, "From: <sip:mallory@127.0.0.1>", "From: <sip:door1@127.0.0.1>", 1)
		m = strings.Replace(m, "To: <"+ruri+">", "To: <sip:door1@127.0.0.1>", 1)
		return exchange(t, c, reg.port, m)
	}
	authFor := func(chal, uri string) string {
		nonce := between(chal, `nonce="`, `"`)
		resp := DigestResponse("door1", "menjin", "pw1", "REGISTER", uri, nonce, "00000001", "abc", "auth")
		return fmt.Sprintf("Authorization: Digest username=\"door1\", realm=\"menjin\", nonce=%q, uri=%q, response=%q, algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"\r\n",
			nonce, uri, resp)
	}
	chal := register(1, "")
	require.Equal(t, 401, statusOf(chal), chal)
	got := register(2, authFor(chal, "sip:elsewhere.example.com"))
	assert.Equal(t, 403, statusOf(got), got)
	_, ok := reg.Lookup("door1")
	assert.False(t, ok)

	chal = register(3, "")
	got = register(4, authFor(chal, ruri))
	assert.Equal(t, 200, statusOf(got), got)
	_, ok = reg.Lookup("door1")
	assert.True(t, ok)
}

func between(s, a, b string) string {
	_, after, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, b)
	return v
}

// Credentials never reach the logs, at any level.
func TestRegistrarLogsNoCredentials(t *testing.T) {
	const secret = "pl4nted-S3CRET-pw"
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": secret}, WithLogger(log))
	require.NoError(t, err)
	defer reg.Close()
	door := newDoorRig(t, WithLogger(log))
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: secret})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(testCtx(t)))
	bad := newResident(t, WithLogger(log))
	_, err = bad.Register(RegisterConfig{Registrar: reg.URI(), User: "door1", Password: secret + "-wrong", Timeout: time.Second})
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	out := buf.String()
	require.NotEmpty(t, out, "the logger was used")
	assert.NotContains(t, out, secret)
	assert.NotContains(t, out, "response=", "no digest response in the logs")
}

// RFC 2833 '*' sent to the door's RTP port from a host that is not the
// dialog's peer opens nothing; the same packets from the peer open.
func TestRFC2833FromForeignHostIgnored(t *testing.T) {
	door := newDoorRig(t, WithAllow(netip.MustParsePrefix("127.0.0.0/8")))
	res := newResident(t)
	ctx := testCtx(t)
	call, err := res.CallDoor(ctx, door.URI())
	require.NoError(t, err)
	a := call.RemoteMedia().Audio
	require.NotNil(t, a)
	pt := uint8(call.TelephoneEventPT())
	dst := &net.UDPAddr{IP: net.ParseIP(a.Addr), Port: a.Port}
	star := func(from string, ts uint32) {
		c := rawUDP(t, from)
		for i := 0; i < 3; i++ {
			_, err := c.WriteTo(rtpPacket(pt, false, uint16(ts)+uint16(i), ts, 0x4321, []byte{0x0A, 0x8A, 0x03, 0x20}), dst)
			require.NoError(t, err)
		}
	}
	star("127.0.0.2", 160)
	time.Sleep(200 * time.Millisecond)
	assert.EqualValues(t, 0, door.opened.Load(), "RTP from 127.0.0.2 opened the door")
	star("127.0.0.1", 320)
	assert.True(t, door.event(t).Granted())
	assert.EqualValues(t, 1, door.opened.Load())
}

// A caller whose INVITE does not come from its registered socket answers
// the registrar's 407 with a digest and is routed; its in-dialog unlock
// INFOs pass because the call was authorised.
func TestRegistrarRoutesDigestAuthenticatedCall(t *testing.T) {
	reg, err := NewRegistrar("127.0.0.1:0", map[string]string{"door1": "pw1", "room1": "pw2"})
	require.NoError(t, err)
	defer reg.Close()
	ctx := testCtx(t)
	door := newDoorRig(t)
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(ctx))
	res := newResident(t, WithUser("room1"))
	// Registered over TCP, calling over UDP: not the registered socket.
	rr, err := res.Register(RegisterConfig{Registrar: reg.URI() + ";transport=tcp", Password: "pw2"})
	require.NoError(t, err)
	require.NoError(t, rr.WaitRegistered(ctx))
	before := reg.Stats().Challenges

	call, err := res.CallDoor(ctx, "sip:door1@"+reg.Addr())
	require.NoError(t, err)
	assert.Greater(t, reg.Stats().Challenges, before, "the INVITE was challenged")
	out, err := call.Unlock(ctx)
	require.NoError(t, err)
	assert.True(t, out.OK())
	ev := door.event(t)
	assert.Equal(t, "room1", ev.Peer)
	require.NoError(t, call.Hangup(ctx))
}

// Accepted SIP-TCP connections are bounded in number: over the limit a
// connection is closed at accept, and a freed slot is reused.
func TestTCPConnectionsBounded(t *testing.T) {
	door := newDoorRig(t, StackOption(func(c *stackConfig) { c.maxTCP = 2 }))
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", door.Addr(), time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	// open reports whether the door keeps c open for 300 ms.
	open := func(c net.Conn) bool {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	a, b := dial(), dial()
	time.Sleep(50 * time.Millisecond)
	assert.False(t, open(dial()), "the third connection must be closed")
	assert.True(t, open(a))
	assert.True(t, open(b))
	a.Close()
	require.Eventually(t, func() bool { return open(dial()) }, 3*time.Second, 10*time.Millisecond, "a freed slot is reused")
}
