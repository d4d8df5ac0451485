package jsonrepair

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepair(t *testing.T) {
	cases := map[string]string{
		"\xEF\xBB\xBF{\"a\":1}":            `{"a":1}`,
		"{\"a\":1, // c\n}":                "{\"a\":1 \n}",
		`{"a":/* c */1,}`:                  `{"a": 1}`,
		"{\u00a0\"a\":[1,2,]}":             `{ "a":[1,2]}`,
		`{"a":"// not /* a */ comment,}"}`: `{"a":"// not /* a */ comment,}"}`,
		`{"a":"esc \" // still string"}`:   `{"a":"esc \" // still string"}`,
		"{\"a\":1 /* unterminated":         `{"a":1  `,
	}
	for in, want := range cases {
		got, _ := Repair([]byte(in))
		assert.Equal(t, want, string(got), "%q", in)
		assert.LessOrEqual(t, len(got), len(in))
	}
	clean := []byte(`{"a":[1,2],"b":"x"}`)
	got, changed := Repair(clean)
	assert.False(t, changed)
	assert.Equal(t, string(clean), string(got))
	fixed, changed := Repair([]byte("{\n  \"code\": \"207\",//实时事件\n  \"data\": {\"type\": \"1\",},\n}"))
	require.True(t, changed)
	var v map[string]any
	require.NoError(t, json.Unmarshal(fixed, &v))
}
