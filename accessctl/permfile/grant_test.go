package permfile

import (
	"bytes"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPutRemoveGrant(t *testing.T) {
	from := time.UnixMilli(1589472000000)
	to := time.UnixMilli(1905004800000)
	narrow := time.UnixMilli(1800000000000)
	g := accessctl.Grant{
		Person: accessctl.PersonRef{ID: "p-1"}, ValidFrom: &from, ValidTo: &to,
		Credentials: []accessctl.Credential{
			{Kind: accessctl.CredQRCode, Value: "QR-1", QR: &accessctl.QRLimits{MaxScans: 3, Scope: accessctl.ScopeShare}, ValidTo: &narrow},
			{Kind: accessctl.CredCard, Card: &accessctl.CardNo{Raw: "f47b0ba2"}},
			{Kind: accessctl.CredPassword, Value: "246810"},
			{Kind: accessctl.CredFace, Face: &accessctl.Image{URL: "x"}},
		},
	}
	st := NewStore()
	require.NoError(t, st.PutGrant(ctx, g))
	require.NoError(t, st.PutGrant(ctx, g), "idempotent")
	qr, ok := st.Lookup(accessctl.CredQRCode, "QR-1")
	require.True(t, ok)
	assert.Equal(t, 3, qr.MaxScans)
	assert.Equal(t, accessctl.ScopeShare, qr.Scope)
	assert.Equal(t, narrow, qr.End, "the credential's window narrows the grant's")
	assert.Equal(t, from.UnixMilli(), qr.Start.UnixMilli())
	card, ok := st.Lookup(accessctl.CredCard, "F47B0BA2")
	require.True(t, ok)
	assert.Equal(t, "p-1", card.UserID)
	assert.Equal(t, 1, st.Len(accessctl.CredPassword))

	// Scans survive a re-put of the same grant.
	_, ok, err := st.Consume(ctx, qr)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.PutGrant(ctx, g))
	used, err := st.Used(ctx, qr)
	require.NoError(t, err)
	assert.Equal(t, 1, used)

	// A second person is untouched by the first one's changes.
	other := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-2"}, Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: "AA"}}}
	require.NoError(t, st.PutGrant(ctx, other))

	// Re-putting with fewer credentials drops the rest; a limit left out
	// of the new grant is not inherited (the grant is the whole truth).
	g.Credentials = []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "QR-1"}}
	require.NoError(t, st.PutGrant(ctx, g))
	assert.Zero(t, st.Len(accessctl.CredPassword))
	_, ok = st.Lookup(accessctl.CredCard, "F47B0BA2")
	assert.False(t, ok)
	qr, _ = st.Lookup(accessctl.CredQRCode, "QR-1")
	assert.Equal(t, -1, qr.MaxScans)

	require.NoError(t, st.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	require.NoError(t, st.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}), "absent person is fine")
	assert.Zero(t, st.Len(accessctl.CredQRCode))
	assert.Equal(t, 1, st.Len(accessctl.CredCard), "p-2 keeps its card")
	require.ErrorIs(t, st.PutGrant(ctx, accessctl.Grant{}), accessctl.ErrInvalid)
}

// Marshal writes what Parse reads: the cloud side of the same format.
func TestMarshalRoundTrip(t *testing.T) {
	f := parse(t, specFile)
	out, err := Marshal(f.Entries)
	require.NoError(t, err)
	back := parse(t, string(out))
	assert.Equal(t, f.Entries, back.Entries)

	f = parse(t, edgeCardFile)
	out, err = Marshal(append(f.Entries, parse(t, `{"passwordPermissionList":[{"type":1,"password":"1","userId":"u","expiryTime":"1905004800000"}],"bleCardPermissionList":[{"type":2,"cardId":"B"}]}`).Entries...))
	require.NoError(t, err)
	assert.True(t, bytes.Contains(out, []byte(`"tradCardPermissionList":[{"cardId":"777342461","effectiveTime":"1589472000000","expiryTime":"1905004800000","type":1}`)), string(out))
	back = parse(t, string(out))
	assert.Len(t, back.Entries, 5)
	assert.Zero(t, back.SkippedCount)
}

func TestApplyEntriesValidates(t *testing.T) {
	st := NewStore()
	for _, e := range []Entry{
		{Kind: accessctl.CredCard, Op: OpAdd, Key: "  "},
		{Kind: accessctl.CredQRCode, Op: 7, Key: "X"},
		{Kind: accessctl.CredFace, Op: OpAdd, Key: "X"},
	} {
		_, err := st.ApplyEntries(ctx, e)
		assert.ErrorIs(t, err, ErrInvalidEntry, "%+v", e)
	}
	rep, err := st.ApplyEntries(ctx, Entry{Kind: accessctl.CredCard, Op: OpAdd, Key: " ab "})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Inserted)
	_, ok := st.Lookup(accessctl.CredCard, "AB")
	assert.True(t, ok)
}
