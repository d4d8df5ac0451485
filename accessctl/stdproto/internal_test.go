package stdproto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

// A batch that times out is resent in halves down to what the terminal
// manages (D.10); the order of entries is kept (D.14).
func TestBatchedHalvesOnTimeout(t *testing.T) {
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	var sent [][]int
	res, err := batched(context.Background(), items, 50, func(v *int) string { return fmt.Sprint(*v) },
		func(_ context.Context, b []int) error {
			if len(b) > 12 {
				return fmt.Errorf("%w: too slow", accessctl.ErrTimeout)
			}
			sent = append(sent, append([]int(nil), b...))
			return nil
		})
	require.NoError(t, err)
	require.Len(t, res, 100)
	var order []int
	for _, b := range sent {
		assert.LessOrEqual(t, len(b), 12)
		order = append(order, b...)
	}
	assert.Equal(t, items, order)

	// A terminal that times out even on one entry: the error, bounded.
	res, err = batched(context.Background(), items[:4], 50, func(v *int) string { return "" },
		func(context.Context, []int) error { return accessctl.ErrTimeout })
	assert.ErrorIs(t, err, accessctl.ErrTimeout)
	assert.ErrorIs(t, res[0].Err, accessctl.ErrTimeout)
	assert.ErrorIs(t, res[3].Err, ErrNotSent)
}

// Broken JSON decodes as what it means, and says it was repaired (D.1).
func TestRepairJSON(t *testing.T) {
	for in, want := range map[string]string{
		"{\"a\":1,}":                  `{"a":1}`,
		"[1,2,\n]":                    "[1,2\n]",
		"\xef\xbb\xbf{\"a\":\"//x\"}": `{"a":"//x"}`,
		"{/* c */\"a\":1 // d\n}":     "{\"a\":1 \n}",
		"{\"a\":\"x,}\\\"\",}":        `{"a":"x,}\""}`,
		"{\u00a0\"a\":1}":             `{"a":1}`,
	} {
		var got, exp any
		require.NoError(t, json.Unmarshal([]byte(want), &exp))
		repaired, err := decodeJSON([]byte(in), &got)
		require.NoError(t, err, "%q", in)
		assert.True(t, repaired, "%q", in)
		assert.Equal(t, exp, got, "%q", in)
	}
	var v any
	repaired, err := decodeJSON([]byte(`{"a":1}`), &v)
	require.NoError(t, err)
	assert.False(t, repaired, "clean JSON takes the strict path")
	_, err = decodeJSON([]byte(`{"a":1 /* unterminated`), &v)
	assert.ErrorIs(t, err, ErrBadRequest, "still broken after repair")
}

func TestTokenTable(t *testing.T) {
	now := time.Unix(1000, 0)
	tt := newTokenTable(nil, nil)
	tt.now = func() time.Time { return now }
	peer := netip.MustParseAddr("127.0.0.1")
	ok := func(tok string) bool { _, st := tt.check(tok, peer); return st == tokenOK }
	a := tt.issue("sn", "1.2.3.4", peer, 10*time.Second)
	assert.LessOrEqual(t, len(a), MaxTokenBytes)
	assert.True(t, ok(a))
	b := tt.issue("sn", "1.2.3.4", peer, 10*time.Second)
	assert.NotEqual(t, a, b)
	now = now.Add(5 * time.Second)
	assert.True(t, ok(a), "the replaced token lives one keepalive more")
	now = now.Add(6 * time.Second)
	assert.False(t, ok(a), "then it is gone")
	assert.True(t, ok(b))
	now = now.Add(31 * time.Second)
	assert.Equal(t, []string{"sn"}, tt.expire(), "silent for more than 3 × keepalive")
	assert.False(t, ok(b))
}

// A token is valid only from the address that obtained it, and a foreign
// use does not keep the link alive.
func TestTokenBoundToPeer(t *testing.T) {
	now := time.Unix(1000, 0)
	tt := newTokenTable(nil, nil)
	tt.now = func() time.Time { return now }
	home, away := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	tok := tt.issue("sn", "127.0.0.1", home, 10*time.Second)
	key, st := tt.check(tok, away)
	assert.Equal(t, tokenForeign, st)
	assert.Equal(t, "sn", key)
	now = now.Add(25 * time.Second)
	_, st = tt.check(tok, away)
	assert.Equal(t, tokenForeign, st)
	now = now.Add(6 * time.Second)
	assert.Equal(t, []string{"sn"}, tt.expire(), "foreign requests are not liveness")

	// Reconnecting from another address kills the old token at once.
	a := tt.issue("sn", "", home, 10*time.Second)
	b := tt.issue("sn", "", away, 10*time.Second)
	_, st = tt.check(a, home)
	assert.Equal(t, tokenInvalid, st)
	_, st = tt.check(b, away)
	assert.Equal(t, tokenOK, st)
	_, st = tt.check(b, home)
	assert.Equal(t, tokenForeign, st)
}

func TestCodeErrorMatching(t *testing.T) {
	e := &CodeError{Path: PathFacePassEvent, Code: CodeBadParam}
	assert.Contains(t, e.Error(), "face photo content invalid", "C.B.18")
	assert.True(t, errors.Is(e, accessctl.ErrRejected))
	assert.False(t, errors.Is(e, ErrTokenInvalid))
	four := &CodeError{Code: CodeTokenInvalid}
	assert.True(t, errors.Is(four, ErrTokenInvalid))
	assert.False(t, errors.Is(four, accessctl.ErrRejected), "4 is not a refusal: reconnect")
}

// Text takes a string or a number, leaves its value alone on null and
// refuses the other kinds with ErrBadParam-style errors.
func TestTextScalarRule(t *testing.T) {
	v := struct{ A, B, C Text }{C: "kept"}
	require.NoError(t, json.Unmarshal([]byte(`{"A":"8","B":37.5,"C":null}`), &v))
	assert.Equal(t, Text("8"), v.A)
	assert.Equal(t, Text("37.5"), v.B)
	assert.Equal(t, Text("kept"), v.C, "null leaves the value alone")
	for _, in := range []string{`true`, `{}`, `[1]`} {
		var x Text
		assert.Error(t, json.Unmarshal([]byte(in), &x), in)
	}
	var x Text
	assert.Error(t, x.UnmarshalJSON([]byte(`1x`)), "numbers are checked")
}

// The table holds at most max peers: a flood of /connect from many
// allowed addresses evicts the least recently seen, never grows.
func TestTokenTableBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	tt := newTokenTable(nil, nil)
	tt.now = func() time.Time { return now }
	tt.max = 4
	first := tt.issue("10.0.0.1", "", netip.MustParseAddr("10.0.0.1"), 10*time.Second)
	for i := 2; i <= 50; i++ {
		now = now.Add(time.Millisecond)
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		tt.issue(a.String(), "", a, 10*time.Second)
	}
	assert.Len(t, tt.byKey, 4)
	assert.LessOrEqual(t, len(tt.byTok), 4)
	_, st := tt.check(first, netip.MustParseAddr("10.0.0.1"))
	assert.Equal(t, tokenInvalid, st, "the oldest was evicted")
}
