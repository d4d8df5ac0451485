package wsterm

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/jsonrepair"
)

func TestDecodeEverySpecVector(t *testing.T) {
	for i, v := range specVectors(t) {
		frames, repaired, err := DecodeFrames([]byte(v))
		require.NoError(t, err, "vector %d", i)
		require.Len(t, frames, 1)
		assert.Equal(t, strings.Contains(v, "//"), repaired, "vector %d needs repair only for comments", i)
		f := frames[0]
		assert.True(t, f.Code != "" || f.Command != "", "vector %d has a shape", i)
	}
}

func TestDecodeSeedRawEventWithNoBreakSpaces(t *testing.T) {
	raw, err := os.ReadFile("testdata/seed_207_type1_raw.txt")
	require.NoError(t, err)
	require.Contains(t, string(raw), "\u00a0", "the seed indents with U+00A0")
	frames, repaired, err := DecodeFrames(raw)
	require.NoError(t, err)
	assert.True(t, repaired)
	require.Len(t, frames, 1)
	e, id := buildEvent("486468465489", &frames[0], time.Now(), DefaultMaxSnapshot)
	assert.Equal(t, "20240115113644", id)
	require.NotNil(t, e.Pass)
	assert.Equal(t, "77986", e.Pass.Person.ID)
	assert.Equal(t, "in", string(e.Pass.Direction))
}

// A pass whose snapshot is corrupt, not an image or too big is still a
// pass: the door did open. Only the picture goes, and the event says why.
func TestPassSnapshotDroppedNotThePass(t *testing.T) {
	for name, c := range map[string]struct {
		img, dropped string
		max          int
	}{
		"kept":        {img: "/9j/4AAQSkZJRgA=", max: DefaultMaxSnapshot},
		"corrupt":     {img: "%%%not base64%%%", dropped: "not Base64", max: DefaultMaxSnapshot},
		"placeholder": {img: "base64...", dropped: "not Base64", max: DefaultMaxSnapshot},
		"not image":   {img: "aGVsbG8gd29ybGQ=", dropped: "not a JPEG or PNG", max: DefaultMaxSnapshot},
		"too big":     {img: "/9j/4AAQSkZJRgA=", dropped: "over 8 bytes", max: 8},
	} {
		t.Run(name, func(t *testing.T) {
			msg := `{"code":"207","data":{"eventid":"e1","type":"1","data":{"userId":"77986","img":"` + c.img + `","door":"0"}}}`
			fs, _, err := DecodeFrames([]byte(msg))
			require.NoError(t, err)
			e, id := buildEvent("T1", &fs[0], time.Now(), c.max)
			assert.Equal(t, "e1", id)
			require.NotNil(t, e.Pass, "the pass is kept")
			assert.Equal(t, "77986", e.Pass.Person.ID)
			assert.Equal(t, c.dropped, e.Pass.SnapshotDropped)
			if c.dropped == "" {
				require.NotNil(t, e.Pass.Snapshot)
				assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
			} else {
				assert.Nil(t, e.Pass.Snapshot)
			}
		})
	}
}

func TestFlexString(t *testing.T) {
	var v struct {
		A, B, C, D, E FlexString
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A":"200","B":200,"C":null,"D":true,"E":-1.5}`), &v))
	assert.Equal(t, FlexString("200"), v.A)
	assert.Equal(t, FlexString("200"), v.B)
	assert.Equal(t, FlexString(""), v.C)
	assert.True(t, v.D.Truthy())
	assert.Equal(t, FlexString("-1.5"), v.E)
	assert.False(t, FlexString("0").Truthy())
	assert.True(t, FlexString("1").Truthy())
	err := json.Unmarshal([]byte(`{"A":{}}`), &v)
	assert.ErrorIs(t, err, ErrBadFrame)
	b, _ := json.Marshal(FlexString("20"))
	assert.Equal(t, `"20"`, string(b), "always sent as a string")
}

func TestDecodeBadInput(t *testing.T) {
	for _, in := range []string{"", "   ", "null", "[]", `"x"`, "42", "{", `{"code":"205"`, `{"code":{}}`,
		`{"commandId":[1]}`, "\xff\xfe", `{"a":1} [2]`, "/* only a comment */"} {
		_, _, err := DecodeFrames([]byte(in))
		assert.ErrorIs(t, err, ErrBadFrame, "%q", in)
	}
}

func TestDecodeLenient(t *testing.T) {
	cases := map[string]string{
		"bom":            "\xEF\xBB\xBF" + `{"code":"206","data":{}}`,
		"trailing comma": `{"code":"206","data":{"time":"x",},}`,
		"block comment":  `{"code":/* c */"206"}`,
		"comma+comment":  "{\"code\":\"206\", // c\n}",
	}
	for name, in := range cases {
		frames, _, err := DecodeFrames([]byte(in))
		require.NoError(t, err, name)
		assert.Equal(t, FlexString("206"), frames[0].Code, name)
	}
	// Comment markers inside strings are data, not comments.
	frames, repaired, err := DecodeFrames([]byte(`{"code":"206","data":{"time":"a//b /* c */ d,}"}}`))
	require.NoError(t, err)
	assert.False(t, repaired)
	assert.Contains(t, string(frames[0].Data), "a//b /* c */ d,}")
	// Several objects in one message (D.20), numbers for codes (D.2).
	frames, _, err = DecodeFrames([]byte(`{"code":206,"data":{}} {"code":"207","data":{}}`))
	require.NoError(t, err)
	require.Len(t, frames, 2)
	assert.Equal(t, FlexString("206"), frames[0].Code)
	assert.Equal(t, FlexString("207"), frames[1].Code)
}

func TestPayloadPrefersContent(t *testing.T) {
	fs, _, err := DecodeFrames([]byte(`{"code":"203","content":[{"userId":1}],"data":"x","commandId":20240115144330}`))
	require.NoError(t, err)
	assert.Equal(t, `[{"userId":1}]`, string(fs[0].Payload()))
	assert.Equal(t, FlexString("20240115144330"), fs[0].CommandID, "numeric commandId accepted")
	fs, _, _ = DecodeFrames([]byte(`{"code":"500","data":"user not found","content":null}`))
	assert.Equal(t, `"user not found"`, string(fs[0].Payload()))
	assert.Equal(t, "user not found", fs[0].Text())
}

func TestUserRedaction(t *testing.T) {
	u := User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: "base64....."}
	s := u.String()
	assert.NotContains(t, s, "1234\"")
	assert.NotContains(t, s, "pwd=1234")
	assert.NotContains(t, s, "base64")
	assert.Contains(t, s, "12384865")
	lv := u.LogValue().String()
	assert.NotContains(t, lv, "base64")
	assert.NotContains(t, lv, "pwd=1234")
	var back User
	require.NoError(t, json.Unmarshal([]byte(`{"userId":12384865,"role":1,"name":null}`), &back))
	assert.Equal(t, User{UserID: "12384865", Role: "1"}, back)
}

func TestCommandIDRule(t *testing.T) {
	now := time.Date(2024, 1, 15, 14, 43, 30, 0, time.UTC)
	g := &idGen{now: func() time.Time { return now }}
	assert.Equal(t, "202401151443300000", g.next())
	assert.Equal(t, "202401151443300001", g.next())
	seen := map[string]bool{}
	for range 25000 { // more than 10,000 in one second borrows the next seconds
		id := g.next()
		require.False(t, seen[id], "id %s repeated", id)
		require.Len(t, id, 18)
		seen[id] = true
	}
	now = now.Add(-time.Hour) // the clock going back never repeats an id
	id := g.next()
	assert.False(t, seen[id])
	assert.Greater(t, id, "202401151443300001")
}

func TestRoleAndDirectionMappings(t *testing.T) {
	assert.Equal(t, "both", string(RoleOf("0")))
	assert.Equal(t, "exit", string(RoleOf("1")))
	assert.Equal(t, "entry", string(RoleOf("2")))
	assert.Equal(t, "", string(RoleOf("9")))
	assert.Equal(t, "in", string(DirectionOf("0")))
	assert.Equal(t, "out", string(DirectionOf("1")))
	assert.Equal(t, "", string(DirectionOf("2")))
}

func TestBuildEventNeverFails(t *testing.T) {
	for _, in := range []string{
		`{"code":"207"}`, `{"code":"207","data":null}`, `{"code":"207","data":{"type":"1"}}`,
		`{"code":"207","data":{"type":"1","data":null}}`, `{"code":"207","data":{"type":"9","eventid":"e"}}`,
		`{"code":"207","data":{"type":"2","data":{"userId":5}}}`, `{"code":"207","data":[]}`,
	} {
		fs, _, err := DecodeFrames([]byte(in))
		require.NoError(t, err, in)
		e, _ := buildEvent("sn", &fs[0], time.Now(), DefaultMaxSnapshot)
		assert.NotEmpty(t, e.ID, in)
		assert.NotEmpty(t, e.Kind, in)
	}
}

// fuzzMaxSnapshot is small so that the fuzzer reaches the size limit.
const fuzzMaxSnapshot = 16

// FuzzDecodeFrames feeds the decoder every spec vector and mutations of
// them: it must return frames or an ErrBadFrame, never panic, and what it
// returns must survive the event mapping.
func FuzzDecodeFrames(f *testing.F) {
	for _, v := range specVectors(f) {
		f.Add([]byte(v))
	}
	if raw, err := os.ReadFile("testdata/seed_207_type1_raw.txt"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte("\xEF\xBB\xBF{\"code\":206,}"))
	f.Add([]byte(`{"code":"207","data":{"type":"2","data":{"userId":5}}} {"code":1}`))
	f.Add([]byte(`{"code":"207","data":{"eventid":"s","type":"1","data":{"userId":"u","img":"/9j/4AAQSkZJRgA=","door":"0"}}}`))
	f.Add([]byte(`{"code":"207","data":{"eventid":"s","type":"1","data":{"userId":"u","img":"/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD=","door":"1"}}}`))
	f.Add([]byte(`{"code":"207","data":{"eventid":"s","type":"1","data":{"userId":"u","img":"aGVsbG8=","door":"0"}}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		checkDecodeOne(t, msg)
		frames, _, err := DecodeFrames(msg)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(frames) == 0 {
			t.Fatal("no error and no frame")
		}
		for i := range frames {
			e, _ := buildEvent("sn", &frames[i], time.Time{}, fuzzMaxSnapshot)
			if e.ID == "" || e.Kind == "" {
				t.Fatal("event without id or kind")
			}
			if p := e.Pass; p != nil && p.Snapshot != nil {
				if p.SnapshotDropped != "" || len(p.Snapshot.Data) > fuzzMaxSnapshot || accessctl.SniffImage(p.Snapshot.Data) == "" {
					t.Fatalf("snapshot kept against the rule: %v dropped=%q", p.Snapshot, p.SnapshotDropped)
				}
			}
			_ = frames[i].Payload()
			_ = frames[i].Text()
		}
		fixed, _ := jsonrepair.Repair(msg)
		if len(fixed) > len(msg) {
			t.Fatalf("repair grew the input: %d > %d", len(fixed), len(msg))
		}
	})
}

// checkDecodeOne holds the reflection-free reader to json.Unmarshal: what
// it accepts, encoding/json accepts and decodes to the same frame.
func checkDecodeOne(t testing.TB, msg []byte) {
	t.Helper()
	got, ok := decodeOne(msg)
	var want Frame
	err := json.Unmarshal(msg, &want)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("decodeOne accepted %q; encoding/json: %v", msg, err)
	}
	if got.CommandID != want.CommandID || got.Command != want.Command || got.Code != want.Code ||
		!bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil) ||
		!bytes.Equal(got.Content, want.Content) || (got.Content == nil) != (want.Content == nil) {
		t.Fatalf("decodeOne(%q) = %+v, encoding/json %+v", msg, got, want)
	}
}

func TestDecodeOneMatchesEncodingJSON(t *testing.T) {
	for i, v := range specVectors(t) {
		checkDecodeOne(t, []byte(v))
		if !strings.Contains(v, "//") && !strings.Contains(v, "\u00a0") {
			_, ok := decodeOne(bytes.TrimSpace([]byte(v)))
			assert.True(t, ok, "vector %d takes the fast path", i)
		}
	}
	for _, in := range []string{
		`{"code":200,"commandId":"1","data":null,"content":[{"userId":1}]}`, `{"Code":"500","code":"200"}`,
		`{"code":"200","code":null}`, `{"code":{}}`, `{"code":"\u0032\u0030\u0030"}`, `{"COMMANDID":"7"}`,
		`{"code":"a\"b"}`, "{\"code\":\"\xff\"}", `{"code":true,"data":"x","other":[1,{"a":2}]}`, `{"code":1e3}`,
		`{"data":{"eventid":"e","type":"1"}} `, `{"ſ":1,"K":2}`, `{"commandıd":"1"}`,
	} {
		checkDecodeOne(t, []byte(in))
	}
	_, ok := decodeOne([]byte(`{"Code":"500"}`))
	assert.False(t, ok, "a key that only matches case-insensitively goes to encoding/json")
}

func TestEncodeRequestMatchesEncodingJSON(t *testing.T) {
	users := []any{
		User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: "base64....."},
		User{UserID: `q"uo\te<&>`, Name: "\u2028", Img: "/9j/4A=="},
		userEdit{UserID: "1", Name: "x"},
		userEdit{UserID: "1", User: "u", Pwd: "p", Name: "n", Role: "1", Img: "i"},
		UserQuery{UserID: "1"},
	}
	for _, c := range users {
		got, err := encodeRequest("202401151443300001", "addUser", c)
		require.NoError(t, err)
		want, err := json.Marshal(request{CommandID: "202401151443300001", Command: "addUser", Content: c})
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
	// The source's addUser example, byte for byte.
	got, _ := encodeRequest("20240115144330", "addUser", User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: "base64....."})
	assert.Equal(t, specVector(t, "addUser.req"), string(got))
}

func TestFrameStringRedacts(t *testing.T) {
	fs, _, err := DecodeFrames([]byte(specVector(t, "selectUser.rep")))
	require.NoError(t, err)
	s := fs[0].String()
	assert.Contains(t, s, "code=203")
	assert.NotContains(t, s, "1234")
	assert.NotContains(t, s, "base64")
	assert.NotContains(t, fs[0].LogValue().String(), "1234")
}

// jpegHead is the Base64 of the start of a JPEG.
const jpegHead = "/9j/4AAQSkZJRgA="

func TestCheckImage(t *testing.T) {
	long := strings.Repeat("QUJD", 40) // past the 16-byte blocks
	for _, c := range []struct {
		img   string
		plain bool
	}{
		{jpegHead, true}, {jpegHead + long, true}, {"/9j/4AAQ-_" + long, true}, {jpegHead + "\n" + long, false},
		{"/9j/ 4AAQSkZJRgA=", false}, {"data:image/jpeg;base64," + jpegHead + long, true},
		{`data:im"age/<jpeg>\;base64,` + jpegHead, false}, // a prefix that needs escaping
		{"iVBORw0KGgo=", true},                            // PNG
	} {
		plain, err := checkImage(c.img)
		require.NoError(t, err, c.img)
		assert.Equal(t, c.plain, plain, c.img)
	}
	for _, bad := range []string{"", "data:nocomma", jpegHead + long + "*", long + "*" + jpegHead, "QUJD" + long, "/9j/4AAQ\x80" + long} {
		_, err := checkImage(bad)
		assert.ErrorIs(t, err, accessctl.ErrInvalid, "%q", bad)
	}
	_, err := checkImage(long[:37] + "!" + long)
	assert.ErrorContains(t, err, "at 37", "the error names the first bad byte")
}

// TestUserContentIsValidJSON: whatever checkImage accepts goes out as JSON
// equal to encoding/json's, including a data: prefix with quotes in it
// (which once went out unescaped: a broken frame).
func TestUserContentIsValidJSON(t *testing.T) {
	for _, img := range []string{jpegHead, "data:image/jpeg;base64," + jpegHead, `data:im"age/<jpeg>\;base64,` + jpegHead,
		jpegHead[:8] + "\r\n" + jpegHead[8:]} {
		plain, err := checkImage(img)
		require.NoError(t, err)
		u := User{User: "u", UserID: "1", Pwd: "p", Name: "n", Role: "0", Img: img}
		for _, edit := range []bool{false, true} {
			got, err := appendRequest(nil, "1", CmdAddUser, nil, &userContent{User: u, edit: edit, plainImg: plain})
			require.NoError(t, err)
			var content any = u
			if edit {
				content = userEdit(u)
			}
			want, _ := json.Marshal(request{CommandID: "1", Command: CmdAddUser, Content: content})
			assert.Equal(t, string(want), string(got))
		}
	}
}

// FuzzEncodeRequest holds the hand-written command encoder to json.Marshal
// for any user, as addUser and as editUser, with the image flagged plain
// exactly when checkImage says so. Seeds: the spec's addUser and editUser
// requests.
func FuzzEncodeRequest(f *testing.F) {
	for _, name := range []string{"addUser.req", "editUser.req"} {
		var req struct {
			CommandID string `json:"commandId"`
			Content   User   `json:"content"`
		}
		require.NoError(f, json.Unmarshal([]byte(specVector(f, name)), &req))
		u := req.Content
		f.Add(req.CommandID, u.User, u.UserID, u.Pwd, u.Name, u.Role, u.Img)
		f.Add(req.CommandID, u.User, u.UserID, "", u.Name, "", jpegHead)
	}
	f.Add("1", "<&>", "\u2028", "\x00", "\xff", `"\`, `data:im"g;base64,`+jpegHead)
	f.Fuzz(func(t *testing.T, id, user, userID, pwd, name, role, img string) {
		u := User{User: user, UserID: userID, Pwd: pwd, Name: name, Role: role, Img: img}
		plain, err := checkImage(img)
		if err != nil {
			plain = false // sent unchecked (validation off): must still be escaped
		}
		for _, edit := range []bool{false, true} {
			got, err := appendRequest(nil, id, CmdEditUser, nil, &userContent{User: u, edit: edit, plainImg: plain})
			if err != nil {
				t.Fatal(err)
			}
			var content any = u
			if edit {
				content = userEdit(u)
			}
			want, _ := json.Marshal(request{CommandID: id, Command: CmdEditUser, Content: content})
			if !bytes.Equal(got, want) {
				t.Fatalf("appendRequest = %s\nencoding/json  %s", got, want)
			}
		}
	})
}

// A terminal's user object takes numbers and booleans for strings; a bad
// field is a bad frame.
func TestUserScalarRule(t *testing.T) {
	var u User
	require.NoError(t, json.Unmarshal([]byte(`{"userId":77986,"name":"李四","role":true,"img":null}`), &u))
	assert.Equal(t, User{UserID: "77986", Name: "李四", Role: "true"}, u)
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"userId":[1]}`), &u), ErrBadFrame)
}
