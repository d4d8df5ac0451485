package jsonfast

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specVectors are the wsterm examples of accessctl/wsterm/PROTOCOL.md Part E.
func specVectors(t testing.TB) [][]byte {
	files, err := filepath.Glob("../../accessctl/wsterm/testdata/vectors/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// members decodes b with a Scanner, values kept raw; nested objects are
// entered to exercise Enter, others skipped or read at random.
func members(b []byte) (map[string]any, bool) {
	var s Scanner
	s.Reset(b)
	var read func() (map[string]any, bool)
	read = func() (map[string]any, bool) {
		m := map[string]any{}
		if !s.Enter() {
			return nil, false
		}
		for {
			key, more := s.Next()
			if !more {
				return m, true
			}
			switch k := s.Kind(); {
			case k == '{':
				v, ok := read()
				if !ok {
					return nil, false
				}
				m[string(key)] = v
			case len(key) > 0 && key[0] == 's': // left to Next to skip
				m[string(key)] = "skipped"
			default:
				raw, plain, ok := s.Value()
				if !ok {
					return nil, false
				}
				if plain {
					m[string(key)] = string(raw[1 : len(raw)-1])
					continue
				}
				var v any
				if json.Unmarshal(raw, &v) != nil {
					panic("scanner accepted invalid JSON: " + string(raw))
				}
				m[string(key)] = v
			}
		}
	}
	m, ok := read()
	return m, ok && s.Done()
}

// agree checks Object against encoding/json on one input.
func agree(t *testing.T, b []byte) {
	t.Helper()
	got, ok := members(b)
	var want map[string]any
	err := json.Unmarshal(b, &want)
	if !ok {
		// Only escaped keys, invalid UTF-8, deep nesting or invalid input
		// may be refused.
		if err == nil && !bytes.Contains(b, []byte(`\`)) && utf8.Valid(b) && bytes.Count(b, []byte("{"))+bytes.Count(b, []byte("[")) < MaxDepth {
			t.Fatalf("valid object refused: %q", b)
		}
		return
	}
	require.NoError(t, err, "accepted what encoding/json refuses: %q", b)
	// encoding/json decodes numbers as float64 and plain strings alike.
	skipped(want, got)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	require.JSONEq(t, string(wantJSON), string(gotJSON), "%q", b)
}

// skipped marks in want the members members left to Next to skip.
func skipped(want, got map[string]any) {
	for k, v := range got {
		if v == "skipped" {
			want[k] = "skipped"
		} else if g, ok := v.(map[string]any); ok {
			if w, ok := want[k].(map[string]any); ok {
				skipped(w, g)
			}
		}
	}
}

func TestObjectAgreesWithEncodingJSON(t *testing.T) {
	for _, v := range specVectors(t) {
		agree(t, v)
	}
	for _, in := range []string{
		`{}`, ` {} `, `{"a":1}`, `{"a":-0.5e+10,"b":[1,2,{"c":null}],"d":true,"e":false}`,
		`{"a":"\u00e9\n\"x\""}`, `{"a":"李四"}`, "{\"a\":\"\xff\"}", `{"a":"` + strings.Repeat("QUJD", 100) + `"}`,
		`{"a":1,"a":2}`, `{"a":{}}`, `{"a":[]}`, `{"a" : [ ] , "b" : { } }`,
		// invalid
		``, `{`, `}`, `[]`, `"x"`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
		`{"a":1e}`, `{"a":-}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12G4"}`, "{\"a\":\"\x01\"}",
		`{"a":1} {}`, `{"a":1}x`, `{"a":[1,]}`, `{"a":[1 2]}`, `{a:1}`, `{"a":"` + strings.Repeat("QUJD", 100),
		`{"\u0061":1}`, `{"a":{}"b":1}`, `{"a":{"x":1}"b":1}`, `{"a":{},}`, `{"a":{"x":1},"s":{"y":[]},"b":{}}`,
		`{"s":1 "b":2}`, `{"s":{"x":}}`, `{"a":{"s":1,}}`, `{"a":{"x":{}}}}`, strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70),
	} {
		agree(t, []byte(in))
	}
}

func TestPlainStrings(t *testing.T) {
	for in, plain := range map[string]bool{
		`"abc"`: true, `"李四"`: true, `"a\nb"`: false, "\"\xff\"": false, `"` + strings.Repeat("/9j+", 64) + `"`: true,
		`"` + strings.Repeat("/9j+", 64) + `\/"`: false, `"` + strings.Repeat("é", 40) + `"`: true,
	} {
		var got []byte
		var gotPlain bool
		var s Scanner
		s.Reset([]byte(`{"k":` + in + `}`))
		require.True(t, s.Enter())
		_, more := s.Next()
		require.True(t, more)
		var ok bool
		got, gotPlain, ok = s.Value()
		require.True(t, ok)
		_, more = s.Next()
		require.False(t, more)
		require.True(t, s.Done(), in)
		assert.Equal(t, in, string(got))
		assert.Equal(t, plain, gotPlain, in)
		if plain {
			var want string
			require.NoError(t, json.Unmarshal(got, &want))
			assert.Equal(t, want, string(got[1:len(got)-1]))
		}
	}
}

// TestStringBytesEverywhere puts every kind of byte at every position of
// strings around the 16-byte step of the scan.
func TestStringBytesEverywhere(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 33} {
		for pos := range n {
			for _, c := range []byte{0x00, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xc3, 0xff} {
				body := []byte(strings.Repeat("A", n))
				body[pos] = c
				msg := []byte(`{"k":"` + string(body) + `"}`)
				agree(t, msg)
				if !json.Valid(msg) {
					continue
				}
				var s Scanner
				s.Reset(msg)
				s.Enter()
				s.Next()
				raw, plain, ok := s.Value()
				require.True(t, ok)
				var want string
				require.NoError(t, json.Unmarshal(raw, &want))
				assert.Equal(t, plain, want == string(raw[1:len(raw)-1]), "%q", msg)
			}
		}
	}
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "lisi", "李四", `q"uo\te`, "<&>", "\u2028\u2029", "\x00\x01\x1f\b\f\n\r\t", "\xff\xfe",
		"a\xc3", "é\xe2\x82", "/9j/4AAQSkZJRg==", "\x7f"} {
		want, _ := json.Marshal(s)
		assert.Equal(t, string(want), string(AppendString(nil, s)), "%q", s)
	}
}

// FuzzObject checks the scanner against encoding/json: it accepts only what
// encoding/json accepts, sees the same members, and refuses valid input only
// for the documented reasons.
func FuzzObject(f *testing.F) {
	for _, v := range specVectors(f) {
		f.Add(v)
	}
	f.Add([]byte(`{"a":[1,{"b":"\u00e9"}],"c":-1.5e3}`))
	f.Fuzz(func(t *testing.T, b []byte) { agree(t, b) })
}

// FuzzAppendString checks the string writer against json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, v := range specVectors(f) {
		f.Add(string(v))
	}
	f.Add("\u2028<\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestSkippedObjectValueHasNoTrailingSpace(t *testing.T) {
	var s Scanner
	s.Reset([]byte(`{"a":{"x":[1,{}]}  ,"b":2}`))
	require.True(t, s.Enter())
	_, more := s.Next()
	require.True(t, more)
	raw, _, ok := s.Value()
	require.True(t, ok)
	assert.Equal(t, `{"x":[1,{}]}`, string(raw))
	for more {
		_, more = s.Next()
	}
	assert.True(t, s.Done())
}
