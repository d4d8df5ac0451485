package jsonfast

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScalar(t *testing.T) {
	img := strings.Repeat("/9j+", 64)
	for in, want := range map[string]struct {
		text string
		kind byte
	}{
		`"200"`: {"200", '"'}, `200`: {"200", '2'}, ` -1.5e3 `: {"-1.5e3", '-'}, `null`: {"", 'n'},
		`true`: {"true", 't'}, `false`: {"false", 'f'}, `"a\nb"`: {"a\nb", '"'}, `"李四"`: {"李四", '"'},
		`"` + img + `"`: {img, '"'}, `""`: {"", '"'},
	} {
		text, kind, err := Scalar([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want.text, text, in)
		assert.Equal(t, want.kind, kind, in)
	}
	for _, in := range []string{``, ` `, `{}`, `[1]`, `nul`, `truex`, `1x`, `01`, `"`, `"\x"`, `x`} {
		_, _, err := Scalar([]byte(in))
		assert.Error(t, err, in)
	}
	_, _, err := Scalar([]byte(`{"a":1}`))
	assert.ErrorIs(t, err, ErrNotScalar)
	assert.Equal(t, "want a string or a number, got {\"a\":1}", err.Error())
}

// FuzzScalar checks Scalar against encoding/json on every valid scalar:
// the same string value, a number's literal as written.
func FuzzScalar(f *testing.F) {
	for _, s := range []string{`"200"`, `200`, `-1.5`, `null`, `true`, `"a\u00e9"`, `{}`, `"`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		text, kind, err := Scalar(b)
		if !json.Valid(b) {
			if err == nil && kind == '"' {
				// Not full validation by design: b is what a decoder
				// passes on; only plain strings are taken as they are.
				return
			}
			require.Error(t, err, "%q", b)
			return
		}
		lit := strings.Trim(string(b), " \t\r\n")
		switch lit[0] {
		case '"':
			var v string
			require.NoError(t, json.Unmarshal(b, &v))
			require.NoError(t, err)
			assert.Equal(t, v, text)
		case 'n':
			require.NoError(t, err)
			assert.Equal(t, "", text)
		case '{', '[':
			require.ErrorIs(t, err, ErrNotScalar)
		default:
			require.NoError(t, err)
			assert.Equal(t, lit, text)
		}
	})
}

func TestMembers(t *testing.T) {
	var s Scanner
	s.Reset([]byte(`{"a":1,"b":{"c":"x","d":[1]},"e":null}`))
	var keys []string
	var inner []string
	for key := range s.Members() {
		keys = append(keys, string(key))
		if string(key) == "b" {
			for k := range s.Members() {
				inner = append(inner, string(k))
			}
		}
	}
	require.True(t, s.Done())
	assert.Equal(t, []string{"a", "b", "e"}, keys)
	assert.Equal(t, []string{"c", "d"}, inner)

	s.Reset([]byte(`{"a":1,}`))
	for range s.Members() {
	}
	assert.False(t, s.Done(), "a trailing comma fails the scan")
	s.Reset([]byte(`[1]`))
	for range s.Members() {
		t.Fatal("no member in an array")
	}
	assert.False(t, s.Done())
}

// TestMembersAllocatesNothing: ranging over Members keeps the Scanner and
// the loop on the stack, as the hot paths need.
func TestMembersAllocatesNothing(t *testing.T) {
	msg := []byte(`{"code":"200","commandId":"202401011200000001","data":{"x":[1,2]}}`)
	var code []byte
	allocs := testing.AllocsPerRun(100, func() {
		var s Scanner
		s.Reset(msg)
		for key := range s.Members() {
			if string(key) == "code" {
				code, _, _ = s.Value()
			}
		}
		if !s.Done() {
			panic("bad")
		}
	})
	assert.Equal(t, `"200"`, string(code))
	assert.Zero(t, allocs)
}
