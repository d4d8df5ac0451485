package stdproto_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/internal/testutil"
)

// The wire has no secret: these tests play an attacker at 127.0.0.2 (a
// foreign host on loopback) who knows everything a body can say.

const attackerIP = "127.0.0.2"

// clientFrom is an HTTP client whose connections leave from ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// postJSON posts body to http://addr+path with c and decodes the envelope.
func postJSON(t *testing.T, c *http.Client, addr, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := c.Post("http://"+addr+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s answered %q", path, raw)
	return out
}

// forgedConnect is a /connect body that claims ip, correctly signed.
func forgedConnect(t *testing.T, sn, ip string) map[string]any {
	now := time.Now().Unix()
	sign, err := stdproto.Sign(stdproto.SignMD5, now, "00-16-EA-AE-3D-40", sn, ip)
	require.NoError(t, err)
	return map[string]any{"sn": sn, "time": now, "ip": ip, "mac": "00-16-EA-AE-3D-40", "keepalive": 30, "signMethod": "md5", "sign": sign}
}

func tokenOf(t *testing.T, answer map[string]any) string {
	t.Helper()
	data, ok := answer["data"].(map[string]any)
	if !ok {
		return ""
	}
	tok, _ := data["token"].(string)
	return tok
}

// A terminal accepts /connect and /remoteOpen only from its edge's socket
// address: a foreign host writing the edge's ip in the body and a valid
// sign does not open the door; the edge itself does.
func TestTerminalRefusesForeignEdge(t *testing.T) {
	edgeAddr := "127.0.0.1:1" // the configured edge; nothing needs to listen there
	sim, err := stdprototest.Start(stdprototest.Config{SN: "T-SPOOF-01", Edge: edgeAddr, RetryMin: time.Second, RetryMax: time.Second})
	require.NoError(t, err)
	defer sim.Close()

	attacker := clientFrom(attackerIP)
	got := postJSON(t, attacker, sim.Addr(), "/connect", forgedConnect(t, "menjin-edge", "127.0.0.1"))
	assert.Equal(t, 7, code(t, got), "%v", got)
	assert.Empty(t, tokenOf(t, got))
	for _, tok := range []string{"", "guess", exampleToken} {
		got = postJSON(t, attacker, sim.Addr(), "/remoteOpen", map[string]any{"token": tok})
		assert.Equal(t, 7, code(t, got), "%v", got)
	}
	got = postJSON(t, attacker, sim.Addr(), "/cardAC/syncPermissions", map[string]any{"token": "x",
		"permissions": []any{map[string]any{"type": 1, "cardId": "1", "effectiveTime": "0", "expiryTime": "1905004800000"}}})
	assert.Equal(t, 7, code(t, got), "a foreign host cannot change who may enter")
	assert.Equal(t, 0, sim.DoorOpens())
	_, ok := sim.Card("1")
	assert.False(t, ok)
	assert.GreaterOrEqual(t, sim.Agent().Handler().Foreign(), uint64(5))

	// The edge's own address, same bodies: the door opens.
	edge := clientFrom("127.0.0.1")
	got = postJSON(t, edge, sim.Addr(), "/connect", forgedConnect(t, "menjin-edge", "127.0.0.1"))
	require.Equal(t, 0, code(t, got), "%v", got)
	got = postJSON(t, edge, sim.Addr(), "/remoteOpen", map[string]any{"token": tokenOf(t, got)})
	require.Equal(t, 0, code(t, got), "%v", got)
	assert.Equal(t, 1, sim.DoorOpens())
}

// A token is bound to the address that obtained it: with two allowed
// edge hosts, one cannot use the other's token.
func TestTerminalTokenBoundToPeer(t *testing.T) {
	mem := stdprototest.NewMemory()
	h := stdproto.NewTerminalHandler(mem, stdproto.WithAllowedEdges(mustPrefix(t, "127.0.0.0/8")))
	srv := startEdgeServer(t, h)

	got := postJSON(t, clientFrom("127.0.0.1"), srv, "/connect", forgedConnect(t, "menjin-edge", "127.0.0.1"))
	require.Equal(t, 0, code(t, got), "%v", got)
	tok := tokenOf(t, got)
	got = postJSON(t, clientFrom(attackerIP), srv, "/remoteOpen", map[string]any{"token": tok})
	assert.Equal(t, 7, code(t, got), "a token from another address")
	assert.Equal(t, 0, mem.DoorOpens())
	assert.Equal(t, uint64(1), h.Foreign())
	got = postJSON(t, clientFrom("127.0.0.1"), srv, "/remoteOpen", map[string]any{"token": tok})
	assert.Equal(t, 0, code(t, got), "%v", got)
	assert.Equal(t, 1, mem.DoorOpens())
}

// Without a configured edge a handler takes loopback only.
func TestTerminalDefaultsToLoopback(t *testing.T) {
	h := stdproto.NewTerminalHandler(stdprototest.NewMemory())
	for from, want := range map[string]int{"127.0.0.1:4000": 0, "[::1]:4000": 0, "192.168.1.128:4000": 7, "10.0.0.1:4000": 7, "garbage": 7} {
		got := postFrom(t, h, from, "/connect", "application/json", vec(t, "B.6.1_connect_0.json"))
		assert.Equal(t, want, code(t, got), from)
	}
	// WithEdgeIP with something that is not an IP allows nobody.
	h = stdproto.NewTerminalHandler(stdprototest.NewMemory(), stdproto.WithEdgeIP("edge.example"))
	assert.Equal(t, 7, code(t, postFrom(t, h, "127.0.0.1:4000", "/connect", "application/json", vec(t, "B.6.1_connect_0.json"))))
}

// The edge checks the socket peer against provisioning: another host
// replaying a provisioned terminal's /connect, or its token, cannot post
// a pass for that door.
func TestEdgeRefusesForeignTerminal(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-SPOOF-02") // at 127.0.0.1
	ctx := ctxT(t)
	// 127.0.0.2 is a provisioned terminal too: it passes the edge's first
	// gate, and must still not speak for T-SPOOF-02.
	require.NoError(t, r.edge.Provision(stdproto.TerminalConfig{SN: "T-OTHER-02", Addr: attackerIP + ":1"}))
	attacker := clientFrom(attackerIP)
	before := r.edge.Stats()

	got := postJSON(t, attacker, r.addr(), "/connect", forgedConnect(t, "T-SPOOF-02", "127.0.0.1"))
	assert.Equal(t, 7, code(t, got), "%v", got)
	assert.Empty(t, tokenOf(t, got))

	// The real terminal's token, stolen, is refused from elsewhere.
	tok := sim.Agent().Link().Token()
	require.NotEmpty(t, tok)
	got = postJSON(t, attacker, r.addr(), "/cardAC/passEvent", map[string]any{"token": tok, "cardId": "777342461"})
	assert.Equal(t, 7, code(t, got), "%v", got)
	got = postJSON(t, attacker, r.addr(), "/keepalive", map[string]any{"token": tok})
	assert.Equal(t, 7, code(t, got), "%v", got)

	// A host at no provisioned address is refused before anything.
	r.edge.Unprovision("T-OTHER-02")
	got = postJSON(t, attacker, r.addr(), "/connect", forgedConnect(t, "T-SPOOF-02", "127.0.0.1"))
	assert.Equal(t, 7, code(t, got), "%v", got)

	after := r.edge.Stats()
	assert.Equal(t, before.Foreign+4, after.Foreign)
	assert.Equal(t, before.Connects, after.Connects, "no /connect accepted")
	assert.Equal(t, 0, r.sink.count(accessctl.KindPass), "nothing recorded as that door's pass")

	// The terminal itself is unaffected and its pass is recorded.
	require.NoError(t, sim.PassCard(ctx, "777342461"))
	e := r.sink.next(t, accessctl.KindPass)
	assert.Equal(t, "T-SPOOF-02", e.Device.ID)
	st, err := dev.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Online)
}

// A pass whose photo is random bytes is delivered without the photo, with
// SnapshotDropped set, counted, and answered success; enrolment of a bad
// face is still refused.
func TestFacePassKeepsRecordWithoutBadPhoto(t *testing.T) {
	r := newRig(t)
	sim, dev := r.terminal(t, "T-SNAP-01")
	ctx := ctxT(t)
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i*7919 + i>>3) // not a JPEG or PNG
	}
	photoID, err := sim.Agent().PassFace(ctx, "person-9", 0.91, junk, "")
	require.NoError(t, err, "the terminal is told success: it must not resend forever")
	assert.NotEmpty(t, photoID)
	e := r.sink.next(t, accessctl.KindPass)
	require.NotNil(t, e.Pass)
	assert.Equal(t, "person-9", e.Pass.Person.ID)
	assert.Equal(t, "photo is not a JPEG or PNG", e.Pass.SnapshotDropped)
	assert.Nil(t, e.Pass.Snapshot)
	assert.Equal(t, uint64(1), r.edge.Stats().SnapshotsDropped)

	// A good photo is kept as before.
	_, err = sim.PassFace(ctx, "person-9", 0.91)
	require.NoError(t, err)
	e = r.sink.next(t, accessctl.KindPass)
	assert.Empty(t, e.Pass.SnapshotDropped)
	require.NotNil(t, e.Pass.Snapshot)
	assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
	assert.Equal(t, uint64(1), r.edge.Stats().SnapshotsDropped)

	// Enrolment from the host still refuses a face that is not an image.
	err = dev.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "person-9"},
		Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: junk}}}})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	assert.Equal(t, 0, sim.FaceCount())
}

// Constructors refuse invalid input at once instead of retrying forever,
// and a handle that does not exist is an error, not a nil that panics.
func TestConstructorsValidate(t *testing.T) {
	for _, sn := range []string{"abc", "has space", "x/y-0001", string(bytes.Repeat([]byte("a"), 33))} {
		sim, err := stdprototest.Start(stdprototest.Config{SN: sn, Edge: "127.0.0.1:1"})
		assert.ErrorIs(t, err, accessctl.ErrInvalid, "sn %q", sn)
		assert.Nil(t, sim)
	}
	for _, edge := range []string{"", "127.0.0.1", "no-port"} {
		_, err := stdproto.StartAgent(stdproto.AgentConfig{Edge: edge, Identity: stdproto.Identity{SN: "T-0001"}})
		assert.ErrorIs(t, err, accessctl.ErrInvalid, "edge %q", edge)
	}
	_, err := stdprototest.Start(stdprototest.Config{SN: "T-0001", Edge: "127.0.0.1:1", IP: "my-terminal"})
	assert.ErrorIs(t, err, accessctl.ErrInvalid, "an ip no edge could ever match")

	edge := stdproto.NewEdge(stdproto.WithLogger(nil))
	defer edge.Close()
	assert.ErrorIs(t, edge.Provision(stdproto.TerminalConfig{SN: "T-0001", Addr: "terminal.example:8080"}), accessctl.ErrInvalid,
		"a host name cannot be checked against a socket address")
	assert.ErrorIs(t, edge.Provision(stdproto.TerminalConfig{SN: "T-0001", Addr: "127.0.0.1:8080", PeerIP: "nat"}), accessctl.ErrInvalid)
	dev, err := edge.Terminal("T-NOPE")
	assert.ErrorIs(t, err, accessctl.ErrNotFound)
	assert.Nil(t, dev)
	// Even a caller that ignored the error gets errors, not panics.
	ctx := context.Background()
	assert.ErrorIs(t, dev.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "p"}}), accessctl.ErrInvalid)
	assert.ErrorIs(t, dev.OpenDoor(ctx, accessctl.OpenRequest{}), accessctl.ErrInvalid)
	_, err = dev.Status(ctx)
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	assert.NoError(t, dev.Close())
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	require.NoError(t, err)
	return p
}

// count is how many events of kind the recorder took.
func (r *recorder) count(kind accessctl.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// Tokens never reach String() or the edge's log.
func TestTokensNotPrinted(t *testing.T) {
	assert.NotContains(t, fmt.Sprint(stdproto.ConnectData{Token: exampleToken}), exampleToken)
	assert.NotContains(t, fmt.Sprintf("%v %+v", stdproto.TokenRequest{Token: exampleToken}, &stdproto.TokenRequest{Token: exampleToken}), exampleToken)

	var logs testutil.Buffer
	edge, _, _ := exampleEdge(t, stdproto.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.Equal(t, 0, code(t, post(t, edge, "/connect", "application/json", vec(t, "B.6.1_connect_0.json"))))
	got := postFrom(t, edge, "127.0.0.9:4000", "/keepalive", "application/json", []byte(`{"token":"`+exampleToken+`"}`))
	assert.Equal(t, 7, code(t, got))
	require.NoError(t, edge.Provision(stdproto.TerminalConfig{SN: "T-OTHER-09", Addr: "127.0.0.9:1"}))
	got = postFrom(t, edge, "127.0.0.9:4000", "/keepalive", "application/json", []byte(`{"token":"`+exampleToken+`"}`))
	assert.Equal(t, 7, code(t, got), "the example terminal's token from another terminal's address")
	assert.Contains(t, logs.String(), "wrong source address")
	assert.NotContains(t, logs.String(), exampleToken)
	assert.Equal(t, uint64(2), edge.Stats().Foreign)
}
