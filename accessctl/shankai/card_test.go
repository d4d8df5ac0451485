package shankai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

var hex44 = strings.Repeat("A1", 22)

// The vectors of accessctl/PLATFORMS.md §2.5, and the rules behind them.
func TestParseCardNoTable(t *testing.T) {
	accept := []struct {
		in, raw  string
		value    uint64
		notation accessctl.CardNotation
	}{
		{"123456", "123456", 123456, accessctl.CardDecimal},
		{"2147483647", "2147483647", 2147483647, accessctl.CardDecimal},
		{"0x1A3D5B79", "0x1A3D5B79", 0x1A3D5B79, accessctl.CardHex},
		{"0X00ff", "0x00FF", 0xFF, accessctl.CardHex},
		{"0x" + hex44, "0x" + hex44, 0, accessctl.CardHex}, // 22 bytes: no uint64 value
		{"  123456\t", "123456", 123456, accessctl.CardDecimal},
		{"000123", "123", 123, accessctl.CardDecimal},
		{"0x00A1B2C3", "0x00A1B2C3", 0xA1B2C3, accessctl.CardHex},
		{"1", "1", 1, accessctl.CardDecimal},
	}
	for _, c := range accept {
		t.Run("accept "+c.in, func(t *testing.T) {
			got, err := ParseCardNo(c.in)
			require.NoError(t, err)
			assert.Equal(t, accessctl.CardNo{Raw: c.raw, Value: c.value, Notation: c.notation}, got)
		})
	}
	reject := []string{"", "0", "-1", "+5", "1.0", "1e5", "2147483648", "0x", "0xG1", "12 34",
		"0x" + hex44 + "B", "０１２", "0x0000", "99999999999999999999999", " ", "0x 12", "1_000", "١٢٣"}
	for _, in := range reject {
		t.Run("reject "+in, func(t *testing.T) {
			_, err := ParseCardNo(in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidCard)
			assert.ErrorIs(t, err, accessctl.ErrInvalid)
			var ce *CardError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, in, ce.Input)
		})
	}
}

func TestHexFallback(t *testing.T) {
	got, err := ParseCardNo("2147483648", AllowHexFallback())
	require.NoError(t, err)
	assert.Equal(t, accessctl.CardNo{Raw: "0x80000000", Value: 2147483648, Notation: accessctl.CardHex}, got)
	got, err = ParseCardNo("4294967296", AllowHexFallback())
	require.NoError(t, err)
	assert.Equal(t, "0x100000000", got.Raw)
	got, err = ParseCardNo("123456", AllowHexFallback())
	require.NoError(t, err)
	assert.Equal(t, accessctl.CardDecimal, got.Notation, "in-range numbers stay decimal")
	_, err = ParseCardNo(strings.Repeat("9", 60), AllowHexFallback())
	assert.ErrorIs(t, err, ErrInvalidCard, "more than 22 bytes even in hex")
}

func TestSameCard(t *testing.T) {
	dec, _ := ParseCardNo("123456")
	hx, _ := ParseCardNo("0x1E240")
	padded, _ := ParseCardNo("0x0001E240")
	other, _ := ParseCardNo("123457")
	assert.True(t, SameCard(dec, hx))
	assert.True(t, SameCard(hx, padded), "leading zero bytes do not change the value")
	assert.False(t, SameCard(dec, other))
	assert.NotEqual(t, hx.Raw, padded.Raw, "but each keeps its own digits")
	k, err := CardKey(dec)
	require.NoError(t, err)
	assert.Equal(t, "01e240", k)
}

func TestWireCard(t *testing.T) {
	dec, _ := ParseCardNo("123456")
	w, err := wireCard(dec)
	require.NoError(t, err)
	b, _ := json.Marshal(map[string]any{"card_no": w})
	assert.JSONEq(t, `{"card_no":123456}`, string(b), "decimal travels as a number, as in the example")
	hx, _ := ParseCardNo("0x1a3d5b79")
	w, _ = wireCard(hx)
	b, _ = json.Marshal(map[string]any{"card_no": w})
	assert.JSONEq(t, `{"card_no":"0x1A3D5B79"}`, string(b))
	_, err = wireCard(accessctl.CardNo{Raw: "2147483648", Notation: accessctl.CardDecimal})
	assert.ErrorIs(t, err, ErrInvalidCard, "a card from elsewhere is checked again")
}

func TestParseCardResponse(t *testing.T) {
	for _, c := range []struct {
		raw      string
		as       accessctl.CardNotation
		want     accessctl.CardNo
		wantFail bool
	}{
		{`123456`, accessctl.CardDecimal, accessctl.CardNo{Raw: "123456", Value: 123456, Notation: CardAmbiguous}, false},
		{`"123456"`, accessctl.CardDecimal, accessctl.CardNo{Raw: "123456", Value: 123456, Notation: CardAmbiguous}, false},
		{`"123456"`, accessctl.CardHex, accessctl.CardNo{Raw: "123456", Value: 0x123456, Notation: CardAmbiguous}, false},
		{`"0x1A3D5B79"`, accessctl.CardDecimal, accessctl.CardNo{Raw: "0x1A3D5B79", Value: 0x1A3D5B79, Notation: accessctl.CardHex}, false},
		{`"0Xab"`, accessctl.CardDecimal, accessctl.CardNo{Raw: "0xAB", Value: 0xAB, Notation: accessctl.CardHex}, false},
		{`-5`, accessctl.CardDecimal, accessctl.CardNo{}, true},
		{`1.5`, accessctl.CardDecimal, accessctl.CardNo{}, true},
		{`null`, accessctl.CardDecimal, accessctl.CardNo{}, true},
		{`"12a"`, accessctl.CardDecimal, accessctl.CardNo{}, true},
		{`{}`, accessctl.CardDecimal, accessctl.CardNo{}, true},
	} {
		got, err := parseCardResponse(json.RawMessage(c.raw), c.as)
		if c.wantFail {
			assert.Error(t, err, c.raw)
			continue
		}
		require.NoError(t, err, c.raw)
		assert.Equal(t, c.want, got, c.raw)
	}
}

func FuzzParseCardNo(f *testing.F) {
	for _, s := range []string{"123456", "2147483647", "0x1A3D5B79", "0X00ff", "0x" + hex44, "", "0", "-1", "+5",
		"1.0", "1e5", "2147483648", "0x", "0xG1", "12 34", "0x" + hex44 + "B", "０１２"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCardNo(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCard) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// What was accepted round-trips: parsing the wire form gives itself.
		again, err := ParseCardNo(c.Raw)
		if err != nil || again != c {
			t.Fatalf("%q → %+v → %+v, %v", s, c, again, err)
		}
		if c.Notation == accessctl.CardDecimal && (c.Value == 0 || c.Value > MaxDecimalCard) {
			t.Fatalf("decimal out of range: %+v", c)
		}
		if _, err := CardKey(c); err != nil {
			t.Fatalf("no key for %+v: %v", c, err)
		}
		if fb, err := ParseCardNo(s, AllowHexFallback()); err != nil || !SameCard(fb, c) {
			t.Fatalf("fallback changed %q: %+v vs %+v (%v)", s, fb, c, err)
		}
	})
}

func FuzzParseCardResponse(f *testing.F) {
	for _, s := range []string{`123456`, `"123456"`, `"0x1A3D5B79"`, `null`, `-1`, `1e400`, `"` + strings.Repeat("9", 70) + `"`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, asHex bool) {
		as := accessctl.CardDecimal
		if asHex {
			as = accessctl.CardHex
		}
		c, err := parseCardResponse(raw, as)
		if err != nil {
			if !errors.Is(err, ErrInvalidCard) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if c.Raw == "" {
			t.Fatalf("accepted an empty card from %q", raw)
		}
	})
}
