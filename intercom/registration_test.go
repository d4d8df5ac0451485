package intercom

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type seenRegister struct {
	cseq   uint32
	callID string
	auth   bool
}

func newRegistrar(t *testing.T, addr string, opts ...RegistrarOption) (*Registrar, func() []seenRegister) {
	t.Helper()
	r, err := NewRegistrar(addr, map[string]string{"door1": "pw1", "room1202": "pw2"},
		append([]RegistrarOption{WithExpiryRange(time.Second, time.Hour)}, opts...)...)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []seenRegister
	tap := func(req *sip.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, seenRegister{req.CSeq().SeqNo, req.CallID().Value(), req.GetHeader("Authorization") != nil})
	}
	r.tap.Store(&tap)
	t.Cleanup(func() { r.Close() })
	return r, func() []seenRegister { mu.Lock(); defer mu.Unlock(); return append([]seenRegister(nil), seen...) }
}

func TestRegisterRefreshKeepsCSeqAndCallID(t *testing.T) {
	reg, seen := newRegistrar(t, "127.0.0.1:0")
	door := newDoorRig(t)
	var states []RegistrationState
	var mu sync.Mutex
	r, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1", Expires: 2 * time.Second,
		OnState: func(s RegistrationState) { mu.Lock(); states = append(states, s); mu.Unlock() }})
	require.NoError(t, err)
	require.NoError(t, r.WaitRegistered(testCtx(t)))
	b, ok := reg.Lookup("door1")
	require.True(t, ok)
	assert.Equal(t, door.Addr(), b.Contact.HostPort())
	assert.Equal(t, 2*time.Second, r.State().Expires)
	// Refresh at 80 % of 2 s: two more successful REGISTERs within ~3.5 s.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range states {
			if s.Registered {
				n++
			}
		}
		return n >= 3
	}, 5*time.Second, 20*time.Millisecond)
	got := seen()
	require.GreaterOrEqual(t, len(got), 4)
	assert.False(t, got[0].auth, "first REGISTER has no credentials")
	assert.True(t, got[1].auth, "the digest retry")
	for i := 1; i < len(got); i++ {
		assert.Equal(t, got[0].callID, got[i].callID, "one Call-ID for the registration")
		assert.Equal(t, got[i-1].cseq+1, got[i].cseq, "CSeq grows by one, also across the digest retry")
		assert.True(t, got[i].auth, "refreshes pre-authenticate with the next nonce count")
	}
	assert.EqualValues(t, 1, reg.Stats().Challenges, "refreshes reuse the nonce (nc 2, 3, ...) instead of a new challenge")
	// Deregistration on Close.
	door.Close()
	_, ok = reg.Lookup("door1")
	assert.False(t, ok)
}

func TestRegisterWrongPasswordBacksOff(t *testing.T) {
	reg, seen := newRegistrar(t, "127.0.0.1:0")
	door := newDoorRig(t)
	states := make(chan RegistrationState, 8)
	r, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "wrong", AuthRetry: time.Hour,
		OnState: func(s RegistrationState) { states <- s }})
	require.NoError(t, err)
	select {
	case s := <-states:
		assert.False(t, s.Registered)
		assert.ErrorIs(t, s.Err, ErrAuthFailed)
		var se *StatusError
		require.ErrorAs(t, s.Err, &se)
		assert.Equal(t, 403, se.Status)
	case <-time.After(3 * time.Second):
		t.Fatal("no state")
	}
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, seen(), 2, "one challenge, one failed try, then backoff: no tight loop")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.Error(t, r.WaitRegistered(ctx))
	assert.EqualValues(t, 1, reg.Stats().AuthFailures)
}

func TestRegisterRecoversAfterServerLoss(t *testing.T) {
	reg, _ := newRegistrar(t, "127.0.0.1:0")
	addr := reg.Addr()
	door := newDoorRig(t)
	r, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1", Expires: time.Second,
		Timeout: 200 * time.Millisecond, RetryMin: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, r.WaitRegistered(testCtx(t)))
	reg.Close()
	require.Eventually(t, func() bool { return r.State().Err != nil }, 3*time.Second, 20*time.Millisecond, "refresh fails while the server is gone")
	// A new server (fresh nonces: our cached one is unknown, answered stale) on the same address.
	var reg2 *Registrar
	require.Eventually(t, func() bool {
		var err error
		reg2, _ = func() (*Registrar, func() []seenRegister) {
			r, err2 := NewRegistrar(addr, map[string]string{"door1": "pw1"}, WithExpiryRange(time.Second, time.Hour))
			err = err2
			return r, nil
		}()
		return err == nil
	}, 3*time.Second, 50*time.Millisecond)
	defer reg2.Close()
	require.Eventually(t, func() bool { _, ok := reg2.Lookup("door1"); return ok }, 5*time.Second, 20*time.Millisecond)
	// The registrar stores the binding before its 200 OK reaches the door:
	// the door's state turns a moment later.
	require.Eventually(t, func() bool { return r.State().Registered }, 5*time.Second, 20*time.Millisecond)
}

// rawRegister sends one REGISTER from a plain sipgo client with an optional Authorization.
func rawRegister(t *testing.T, ep *Endpoint, reg *Registrar, cseq uint32, auth string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: reg.port})
	aor := sip.Uri{Scheme: "sip", User: "door1", Host: "127.0.0.1"}
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", "raw")
	to := sip.ToHeader{Address: aor}
	cid := sip.CallIDHeader("raw-register")
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	ct := ep.contact("udp")
	req.AppendHeader(&ct)
	if auth != "" {
		req.AppendHeader(sip.NewHeader("Authorization", auth))
	}
	ep.fromUDPSocket(req)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := ep.cli.Do(ctx, req)
	require.NoError(t, err)
	return res
}

func TestRegistrarRejectsReplayAndStaleNonce(t *testing.T) {
	reg, _ := newRegistrar(t, "127.0.0.1:0", WithNonceTTL(time.Minute))
	var clockMu sync.Mutex
	clock := time.Now()
	reg.nonces.mu.Lock()
	reg.nonces.now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	reg.nonces.mu.Unlock()
	ep := newDoorRig(t).Endpoint
	res := rawRegister(t, ep, reg, 1, "")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	assert.Equal(t, []string{"auth"}, chal.QOP)
	assert.Equal(t, "MD5", chal.Algorithm)
	mk := func(nc int, pass string) string {
		c, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:" + strconv.Itoa(reg.port),
			Username: "door1", Password: pass, Count: nc, Cnonce: "c0ffee"})
		require.NoError(t, err)
		return c.String()
	}
	good := mk(1, "pw1")
	assert.Equal(t, 200, rawRegister(t, ep, reg, 2, good).StatusCode)
	assert.Equal(t, 403, rawRegister(t, ep, reg, 3, good).StatusCode, "replayed nonce+nc")
	assert.Equal(t, 403, rawRegister(t, ep, reg, 4, mk(2, "nope")).StatusCode, "wrong password")
	assert.Equal(t, 200, rawRegister(t, ep, reg, 5, mk(3, "pw1")).StatusCode, "next nc is fine")
	clockMu.Lock()
	clock = clock.Add(2 * time.Minute)
	clockMu.Unlock()
	res = rawRegister(t, ep, reg, 6, mk(4, "pw1"))
	require.Equal(t, 401, res.StatusCode, "expired nonce is challenged again")
	chal2, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	assert.True(t, chal2.Stale)
	assert.NotEqual(t, chal.Nonce, chal2.Nonce)
	st := reg.Stats()
	assert.EqualValues(t, 1, st.Replays)
	assert.EqualValues(t, 1, st.AuthFailures)
}

func TestRegistrarRoutesCallsAndUnlocks(t *testing.T) {
	reg, _ := newRegistrar(t, "127.0.0.1:0")
	door := newDoorRig(t)
	ctx := testCtx(t)
	dr, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1"})
	require.NoError(t, err)
	require.NoError(t, dr.WaitRegistered(ctx))
	res := newResident(t)
	rr, err := res.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw2"})
	require.NoError(t, err)
	require.NoError(t, rr.WaitRegistered(ctx))

	// Resident → door through the proxy (Record-Route keeps INFO on the proxy).
	call, err := res.CallDoor(ctx, "door1")
	require.NoError(t, err)
	out, err := call.Unlock(ctx)
	require.NoError(t, err)
	assert.True(t, out.OK())
	assert.Equal(t, "room1202", door.event(t).Peer)
	require.NoError(t, call.Hangup(ctx))

	// Door → room through the proxy; the resident unlocks in the door's call.
	dcall, err := door.CallRoom(ctx, "room1202")
	require.NoError(t, err)
	rcall := <-res.Incoming()
	_, err = rcall.Unlock(ctx)
	require.NoError(t, err)
	assert.Equal(t, dcall.CallID(), door.event(t).CallID)
	require.NoError(t, dcall.Hangup(ctx))

	// Unknown and unregistered accounts.
	_, err = door.CallRoom(ctx, "nobody")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 404, se.Status)
	res.Close() // deregisters room1202
	_, err = door.CallRoom(ctx, "room1202")
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 480, se.Status)
	assert.GreaterOrEqual(t, reg.Stats().Forwarded, uint64(6))
	_ = net.IPv4zero
}

// A registrar behind which we look NATed: it stamps a public received/rport
// into the Via of its answers. The door must re-REGISTER at once with that
// address as Contact (spec §3, rec 2).
func TestRegisterAdoptsNATAddress(t *testing.T) {
	st, err := newStack("127.0.0.1:0", "", "nat-registrar", defaultStackConfig(), false)
	require.NoError(t, err)
	var mu sync.Mutex
	var contacts []string
	st.srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		mu.Lock()
		contacts = append(contacts, req.Contact().Address.HostPort())
		mu.Unlock()
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.Via().Params.Add("received", "203.0.113.7")
		res.Via().Params.Add("rport", "40123")
		res.AppendHeader(sip.NewHeader("Expires", "600"))
		_ = tx.Respond(res)
	})
	st.serve()
	defer st.close()
	door := newDoorRig(t)
	r, err := door.Register(RegisterConfig{Registrar: "sip:" + net.JoinHostPort("127.0.0.1", strconv.Itoa(st.port))})
	require.NoError(t, err)
	require.NoError(t, r.WaitRegistered(testCtx(t)))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, contacts, 2, "one REGISTER with the local Contact, one with the public one")
	assert.Equal(t, door.Addr(), contacts[0])
	assert.Equal(t, "203.0.113.7:40123", contacts[1])
	assert.Equal(t, "203.0.113.7:40123", r.PublicContact())
	mu.Unlock()
	door.Close() // deregister while the fake registrar still answers
	mu.Lock()
}

// With a long expiry only the OPTIONS keepalive notices that the registrar
// restarted and lost its table; three missed probes trigger a re-REGISTER.
func TestKeepAliveDetectsLostRegistrar(t *testing.T) {
	reg, _ := newRegistrar(t, "127.0.0.1:0")
	addr := reg.Addr()
	door := newDoorRig(t)
	r, err := door.Register(RegisterConfig{Registrar: reg.URI(), Password: "pw1", Expires: time.Hour,
		KeepAlive: 50 * time.Millisecond, Timeout: 100 * time.Millisecond, RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, r.WaitRegistered(testCtx(t)))
	reg.Close()
	require.Eventually(t, func() bool { return errors.Is(r.State().Err, ErrUnreachable) }, 3*time.Second, 10*time.Millisecond, "probes miss")
	reg2, err := NewRegistrar(addr, map[string]string{"door1": "pw1"})
	require.NoError(t, err)
	defer reg2.Close()
	require.Eventually(t, func() bool { _, ok := reg2.Lookup("door1"); return ok }, 3*time.Second, 10*time.Millisecond,
		"re-registered long before the 48-minute refresh")
}
