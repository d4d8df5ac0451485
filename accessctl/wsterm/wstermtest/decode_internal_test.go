package wstermtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectors are the spec's examples (accessctl/wsterm/PROTOCOL.md Part E).
func vectors(t testing.TB) [][]byte {
	files, err := filepath.Glob("../testdata/vectors/*.json")
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

// checkInbound holds the reflection-free reader to json.Unmarshal: what it
// accepts, encoding/json accepts and decodes to the same command.
func checkInbound(t testing.TB, msg []byte) bool {
	t.Helper()
	var got, want inbound
	ok := decodeInbound(msg, &got)
	err := json.Unmarshal(msg, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("decodeInbound accepted %q; encoding/json: %v", msg, err)
	}
	if got.Content.img != nil { // the image kept in place must be the one encoding/json decodes
		g, w := got.Content.row(), want.Content.row()
		if string(g.img) != string(w.img) || got.Content.Img != "" {
			t.Fatalf("img of %q: %q, encoding/json %q", msg, g.img, w.img)
		}
		got.Content.img, want.Content.Img = nil, ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeInbound(%q) = %+v, encoding/json %+v", msg, got, want)
	}
	return true
}

func TestDecodeInboundMatchesEncodingJSON(t *testing.T) {
	for _, v := range vectors(t) {
		checkInbound(t, v)
	}
	img := strings.Repeat("/9j+", 512)
	for _, in := range []string{
		`{"commandId":"1","command":"addUser","content":{"user":"u","userId":7,"pwd":"p","name":"李四","role":1,"img":"` + img + `"}}`,
		`{"command":"response","content":{"code":"200","data":"","interval":"20"}}`,
		`{"command":"editUser","content":{"userId":"1","img":"a\/b"}}`, `{"command":"x","content":null}`,
		`{"command":"x","content":"s"}`, `{"Command":"x"}`, `{"command":"x","content":{"IMG":"a"}}`,
		`{"command":"x","content":{"img":"a","img":null}}`, `{"command":"x","content":{"img":5,"img":"b"}}`,
		`{"command":"x","content":{"userId":{}}}`, `{"command":"x","extra":[1,2],"content":{"extra":{"a":1}}}`,
	} {
		checkInbound(t, []byte(in))
	}
	// The common command takes the fast path and keeps the image in place.
	msg := []byte(`{"commandId":"1","command":"addUser","content":{"userId":"7","img":"` + img + `"}}`)
	var in inbound
	require.True(t, decodeInbound(msg, &in))
	assert.Equal(t, img, string(in.Content.img))
	assert.Equal(t, &msg[strings.Index(string(msg), "/9j")], &in.Content.img[0], "no copy")
}

func TestReplyEncodeMatchesMarshal(t *testing.T) {
	for _, r := range []reply{
		{Code: "200", Data: ""}, {Code: "200", Data: "", CommandID: "202401151443300000"},
		{Code: "500", Data: `user "x" <not> found`}, {Code: "203", Content: []int{1}, CommandID: "1"},
		{Code: "208", Content: json.RawMessage(`{"a":1}`)}, {Code: "204", Data: map[string]string{"exit": "1"}},
	} {
		want, err := json.Marshal(&r)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(r.encode()))
	}
}

// FuzzDecodeInbound: the simulator's reader of platform messages agrees
// with encoding/json and never panics.
func FuzzDecodeInbound(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(v)
	}
	f.Add([]byte(`{"commandId":"1","command":"addUser","content":{"userId":7,"img":"/9j/4A=="}}`))
	f.Fuzz(func(t *testing.T, msg []byte) { checkInbound(t, msg) })
}
