package permfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specFile is the verbatim [LK-TEST] permission file (spec §3.7).
const specFile = qrcodetest.PermissionFile

// edgeCardFile is the [EDGE] card push's permissions array as a file list.
const edgeCardFile = `{"tradCardPermissionList":[
 {"type":1,"cardId":"777342461","effectiveTime":"1589472000000","expiryTime":"1905004800000"},
 {"type":2,"cardId":"777342461","effectiveTime":"1589472000000","expiryTime":"1905004800000"},
 {"type":3,"cardId":"777342461","effectiveTime":"1589472000000","expiryTime":"1905004800000"}]}`

var ctx = context.Background()

func parse(t *testing.T, s string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(s), Limits{})
	require.NoError(t, err)
	return f
}

func apply(t *testing.T, st *Store, s string) Report {
	t.Helper()
	rep, err := st.Apply(ctx, parse(t, s))
	require.NoError(t, err)
	return rep
}

func TestSpecFile(t *testing.T) {
	st := NewStore()
	rep := apply(t, st, specFile)
	assert.Equal(t, Report{Applied: 3, Inserted: 2, Deleted: 1}, rep)
	r, ok := st.Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	require.True(t, ok)
	assert.Equal(t, int64(1568270392000), r.Start.UnixMilli())
	assert.Equal(t, int64(1599892792000), r.End.UnixMilli())
	assert.Equal(t, "2019-09-12T06:39:52Z", r.Start.UTC().Format(time.RFC3339))
	assert.Equal(t, "2020-09-12T06:39:52Z", r.End.UTC().Format(time.RFC3339))
	assert.Equal(t, 600, r.MaxScans)
	assert.Equal(t, accessctl.ScopeShare, r.Scope)
	used, err := st.Used(ctx, r)
	require.NoError(t, err)
	assert.Zero(t, used)
	assert.Equal(t, 1, st.Len(accessctl.CredQRCode))
	_, ok = st.Lookup(accessctl.CredQRCode, "alif24dd9end8cd3")
	assert.False(t, ok, "QR codes compare case-sensitively")
}

func TestEdgeCardFile(t *testing.T) {
	st := NewStore()
	rep := apply(t, st, edgeCardFile)
	assert.Equal(t, Report{Applied: 3, Inserted: 2, Deleted: 1}, rep)
	r, ok := st.Lookup(accessctl.CredCard, "777342461")
	require.True(t, ok)
	assert.Equal(t, "2020-05-14T16:00:00Z", r.Start.UTC().Format(time.RFC3339))
	assert.Equal(t, "2030-05-14T16:00:00Z", r.End.UTC().Format(time.RFC3339))
	assert.False(t, r.Limited(), "cards have no scan limit")
}

func TestFileVectors(t *testing.T) {
	t.Run("empty object", func(t *testing.T) {
		st := NewStore()
		assert.Equal(t, Report{}, apply(t, st, `{}`))
	})
	t.Run("delete unknown", func(t *testing.T) {
		st := NewStore()
		rep := apply(t, st, `{"qrCodePermissionList":[{"type":2,"qrCode":"NOPE"}]}`)
		assert.Equal(t, Report{Applied: 1}, rep)
		assert.Zero(t, st.Len(accessctl.CredQRCode))
	})
	t.Run("strings, numbers, seconds", func(t *testing.T) {
		st := NewStore()
		f := parse(t, `{"qrCodePermissionList":[{"type":"1","qrCode":"X","startTime":1568270392000,"endTime":"1599892792","maxScanTimes":"5"}]}`)
		assert.Len(t, f.Warnings, 1, "the seconds branch is reported")
		rep, err := st.Apply(ctx, f)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Applied)
		r, ok := st.Lookup(accessctl.CredQRCode, "X")
		require.True(t, ok)
		assert.Equal(t, int64(1568270392000), r.Start.UnixMilli())
		assert.Equal(t, int64(1599892792000), r.End.UnixMilli())
		assert.Equal(t, 5, r.MaxScans)
		assert.Equal(t, accessctl.ScopeDevice, r.Scope)
	})
	t.Run("bad type skipped", func(t *testing.T) {
		st := NewStore()
		rep := apply(t, st, `{"qrCodePermissionList":[{"type":4,"qrCode":"X"},{"type":1,"qrCode":"Y"}]}`)
		assert.Equal(t, Report{Applied: 1, Skipped: 1, Inserted: 1}, rep)
		r, ok := st.Lookup(accessctl.CredQRCode, "Y")
		require.True(t, ok)
		assert.Equal(t, -1, r.MaxScans, "unlimited by default")
		assert.True(t, r.Start.IsZero() && r.End.IsZero(), "unbounded window by default")
		_, ok = st.Lookup(accessctl.CredQRCode, "X")
		assert.False(t, ok)
	})
	t.Run("empty code skipped", func(t *testing.T) {
		f := parse(t, `{"qrCodePermissionList":[{"type":1,"qrCode":""}]}`)
		assert.Equal(t, 1, f.SkippedCount)
		assert.Empty(t, f.Entries)
	})
	t.Run("merge keeps the limit", func(t *testing.T) {
		st := NewStore()
		apply(t, st, `{"qrCodePermissionList":[{"type":1,"qrCode":"X","maxScanTimes":5}]}`)
		rep := apply(t, st, `{"qrCodePermissionList":[{"type":3,"qrCode":"X","endTime":"1900000000000"}]}`)
		assert.Equal(t, Report{Applied: 1, Updated: 1}, rep)
		r, _ := st.Lookup(accessctl.CredQRCode, "X")
		assert.Equal(t, 5, r.MaxScans)
		assert.Equal(t, int64(1900000000000), r.End.UnixMilli())
	})
}

func TestTruncatedFileRejected(t *testing.T) {
	st := NewStore()
	apply(t, st, specFile)
	before := st.View()
	for _, cut := range []int{1, 20, 60, len(specFile) / 2, len(specFile) - 1} {
		_, err := Parse(strings.NewReader(specFile[:cut]), Limits{})
		require.ErrorIs(t, err, ErrSyntax, "cut at %d", cut)
	}
	assert.Equal(t, before, st.View(), "nothing applied")
}

func TestParseRejectsWholeFile(t *testing.T) {
	for name, in := range map[string]string{
		"not json":       "hello",
		"array top":      `[{"type":1}]`,
		"string top":     `"x"`,
		"list not array": `{"qrCodePermissionList":{"type":1}}`,
		"trailing data":  `{} {}`,
		"trailing junk":  `{}x`,
		"syntax mid":     `{"qrCodePermissionList":[{"type":1,"qrCode":"A"},{"type":1,]}`,
		"empty":          ``,
	} {
		_, err := Parse(strings.NewReader(in), Limits{})
		assert.ErrorIs(t, err, ErrSyntax, name)
	}
}

func TestParseFieldRules(t *testing.T) {
	f := parse(t, `{
	  "unknownList": [1,2,3],
	  "qrCodePermissionList": [
	    {"type":1,"qrCode":"A","startTime":"","endTime":null,"maxScanTimes":-7,"maxScanScope":"share"},
	    {"type":1,"qrCode":"B","maxScanTimes":0,"maxScanScope":"WHATEVER","userId":"u-1","identityId":"i-1","note":"kept"},
	    {"type":1,"qrCode":"C","startTime":"abc"},
	    {"type":1,"qrCode":"D","startTime":-5},
	    {"type":1,"qrCode":"E","maxScanTimes":"lots"},
	    {"qrCode":"F"},
	    {"type":1},
	    {"type":1,"qrCode":42},
	    "not an object",
	    {"type":2,"qrCode":"G","startTime":"garbage"},
	    {"type":1.5,"qrCode":"H"}
	  ],
	  "passwordPermissionList": null,
	  "bleCardPermissionList": [{"type":1,"bleCardId":"514152694808390","startTime":"1589472000000","endTime":"1905004800000"}],
	  "tradCardPermissionList": [{"type":1,"cardId":" f47b0ba2 ","effectiveTime":"1589472000000"}]
	}`)
	byKey := map[string]Entry{}
	for _, e := range f.Entries {
		byKey[string(e.Kind)+"/"+e.Key] = e
	}
	a := byKey["qr_code/A"]
	assert.Nil(t, a.Start, "empty string: unbounded")
	assert.Nil(t, a.End, "null: unbounded")
	assert.Equal(t, -1, *a.MaxScans, "any negative is unlimited")
	assert.Equal(t, accessctl.ScopeShare, *a.Scope, "case-insensitive")
	b := byKey["qr_code/B"]
	assert.Equal(t, 0, *b.MaxScans)
	assert.Equal(t, accessctl.ScopeDevice, *b.Scope, "unknown scope is DEVICE")
	assert.Equal(t, "u-1", b.UserID)
	assert.JSONEq(t, `"kept"`, string(b.Extra["note"]))
	assert.Contains(t, b.Extra, "identityId")
	assert.Contains(t, byKey, "qr_code/42", "a numeric code is kept as its text")
	assert.Contains(t, byKey, "qr_code/G", "a delete needs only its key")
	assert.Contains(t, byKey, "ble_card/514152694808390", "bleCardId alias")
	card := byKey["card/F47B0BA2"]
	require.NotNil(t, card.Start, "card key normalised, effectiveTime read")
	assert.Equal(t, int64(1589472000000), card.Start.UnixMilli())
	assert.Nil(t, card.End)
	assert.Equal(t, 7, f.SkippedCount, "%+v", f.Skipped)
	assert.Len(t, f.Entries, 6)
	assert.NotEmpty(t, f.Warnings)
}

func TestApplySemantics(t *testing.T) {
	st := NewStore()
	// Later entries win; add of an existing key merges.
	apply(t, st, `{"qrCodePermissionList":[
	  {"type":1,"qrCode":"X","maxScanTimes":2,"maxScanScope":"SHARE","startTime":"1000000000000"},
	  {"type":1,"qrCode":"X","endTime":"2000000000000"}]}`)
	r, _ := st.Lookup(accessctl.CredQRCode, "X")
	assert.Equal(t, 2, r.MaxScans)
	assert.Equal(t, accessctl.ScopeShare, r.Scope)
	assert.Equal(t, int64(1000000000000), r.Start.UnixMilli())
	assert.Equal(t, int64(2000000000000), r.End.UnixMilli())

	// The counter survives add/modify and goes with a delete.
	_, ok, err := st.Consume(ctx, r)
	require.NoError(t, err)
	require.True(t, ok)
	apply(t, st, `{"qrCodePermissionList":[{"type":3,"qrCode":"X","maxScanTimes":3}]}`)
	r, _ = st.Lookup(accessctl.CredQRCode, "X")
	used, _ := st.Used(ctx, r)
	assert.Equal(t, 1, used, "modify keeps the counter")
	apply(t, st, `{"qrCodePermissionList":[{"type":2,"qrCode":"X"},{"type":1,"qrCode":"X","maxScanTimes":3}]}`)
	r, _ = st.Lookup(accessctl.CredQRCode, "X")
	used, _ = st.Used(ctx, r)
	assert.Zero(t, used, "delete removed the counter")
	assert.True(t, r.Start.IsZero(), "re-added after delete: defaults, no merge with the deleted record")

	// Lists are independent: the same key in two lists is two records.
	apply(t, st, `{"tradCardPermissionList":[{"type":1,"cardId":"X"}],"passwordPermissionList":[{"type":1,"password":"X"}]}`)
	assert.Equal(t, 1, st.Len(accessctl.CredCard))
	assert.Equal(t, 1, st.Len(accessctl.CredPassword))
	assert.Len(t, st.Records(accessctl.CredQRCode), 1)

	// The same file twice gives the same state.
	apply(t, st, specFile)
	v1 := st.Records(accessctl.CredQRCode)
	apply(t, st, specFile)
	assert.ElementsMatch(t, v1, st.Records(accessctl.CredQRCode))
}

func TestWindow(t *testing.T) {
	r := Record{Start: time.UnixMilli(1568270392000), End: time.UnixMilli(1599892792000)}
	assert.Equal(t, NotYetValid, r.Window(time.UnixMilli(1568270391999), 0))
	assert.Equal(t, Valid, r.Window(time.UnixMilli(1568270392000), 0), "inclusive start")
	assert.Equal(t, Valid, r.Window(time.UnixMilli(1599892792000), 0), "inclusive end")
	assert.Equal(t, Expired, r.Window(time.UnixMilli(1599892792001), 0))
	assert.Equal(t, Valid, r.Window(time.UnixMilli(1599892792001+59_999), time.Minute))
	assert.Equal(t, Valid, r.Window(time.UnixMilli(1568270392000-60_000), time.Minute))
	inverted := Record{Start: time.UnixMilli(2000), End: time.UnixMilli(1000)}
	assert.Equal(t, NotYetValid, inverted.Window(time.UnixMilli(1500), 0), "end < start never passes")
	assert.Equal(t, Expired, inverted.Window(time.UnixMilli(2500), 0))
	assert.Equal(t, Valid, Record{}.Window(time.Unix(0, 0), 0), "unbounded")
}

func TestLimits(t *testing.T) {
	_, err := Parse(strings.NewReader(specFile), Limits{MaxBytes: 100})
	require.ErrorIs(t, err, ErrTooLarge)
	f, err := Parse(strings.NewReader(specFile), Limits{MaxBytes: int64(len(specFile))})
	require.NoError(t, err, "exactly at the limit is fine")
	assert.Len(t, f.Entries, 3)
	_, err = Parse(strings.NewReader(specFile), Limits{MaxEntries: 2})
	require.ErrorIs(t, err, ErrTooLarge)

	// A hostile file with many invalid entries keeps bounded detail.
	var b strings.Builder
	b.WriteString(`{"qrCodePermissionList":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":9}`)
	}
	b.WriteString(`]}`)
	f, err = Parse(strings.NewReader(b.String()), Limits{})
	require.NoError(t, err)
	assert.Equal(t, 1000, f.SkippedCount)
	assert.Len(t, f.Skipped, MaxSkippedDetail)
}

func TestEntryStringRedactsPasswords(t *testing.T) {
	f := parse(t, `{"passwordPermissionList":[{"type":1,"password":"123456"}]}`)
	require.Len(t, f.Entries, 1)
	assert.NotContains(t, f.Entries[0].String(), "123456")
	assert.Equal(t, "modify", OpModify.String())
	assert.Equal(t, "qrCodePermissionList", ListName(accessctl.CredQRCode))
}

func TestParseEntry(t *testing.T) {
	e, err := ParseEntry(accessctl.CredCard, []byte(`{"type":1,"cardId":"777342461","effectiveTime":"1589472000000","expiryTime":"1905004800000"}`))
	require.NoError(t, err)
	assert.Equal(t, OpAdd, e.Op)
	assert.Equal(t, "777342461", e.Key)
	assert.Equal(t, int64(1905004800000), e.End.UnixMilli())
	_, err = ParseEntry(accessctl.CredCard, []byte(`{"type":1}`))
	assert.ErrorIs(t, err, ErrInvalidEntry)
	_, err = ParseEntry(accessctl.CredFace, []byte(`{"type":1}`))
	assert.ErrorIs(t, err, ErrInvalidEntry)
	_, err = ParseEntry(accessctl.CredCard, []byte(`[`))
	assert.ErrorIs(t, err, ErrInvalidEntry)
}
