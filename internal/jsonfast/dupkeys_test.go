package jsonfast

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error // nil: accepted
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, nil},
		{`[]`, nil},
		{`"x"`, nil},
		{`{"a":1,"a":2}`, ErrDuplicateKey},
		{`{"userId":"1","USERID":"2"}`, ErrDuplicateKey}, // encoding/json matches fields so
		{`{"k":1,"\u212a":2}`, ErrDuplicateKey},          // Kelvin sign folds to k
		{`{"s":1,"ſ":2}`, ErrDuplicateKey},
		{`{"x":{"a":[1,{"b":1,"b":1}]}}`, ErrDuplicateKey},
		{`{"a":{"a":{"a":1}},"b":1}`, nil},
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), ErrTooDeep},
	} {
		err := CheckKeys([]byte(tc.in), 32)
		if tc.want == nil {
			assert.NoError(t, err, tc.in)
		} else {
			assert.ErrorIs(t, err, tc.want, tc.in)
		}
	}
	require.Error(t, CheckKeys([]byte(`{"a":`), 32), "bad JSON")
}

func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":[{"b":{}}]}`, `[[[[]]]]`, `{"userId":"1"}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = CheckKeys(b, 16) // never panics, bounded depth
	})
}
