package thingmodel

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Vectors: the spec's passEvent (accessctl/linkkit/PROTOCOL.md §5.3), the seed's
// property methods, and the shapes field firmware sends (numeric ids).
const (
	vecPassEventValue = `{"code":0,"message":"success","type":"qrCode","content":"ALI7af81cfad5df1","extInfo":"{\"type\":\"qrCode\",\"qrCode\":\"ALI7af81cfad5df1\",\"userID\":\"508072501fea93ae39fc8737a2fb2a2424f88787\",\"eventTime\":\"1597821579\"}"}`
	vecPassEventPost  = `{"id":"123","version":"1.0","params":{"value":` + vecPassEventValue + `,"time":1597821579000},"method":"thing.event.passEvent.post"}`
	vecPropertyPost   = `{"id":123,"version":"1.0","params":{"RSAPublicKey":"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIukTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ=="},"method":"thing.event.property.post"}`
	vecSyncInvoke     = `{"id":"7","version":"1.0","params":{"permissionUrl":"https://product-info.oss-cn-shanghai.aliyuncs.com/test.json"},"method":"thing.service.syncPermissions"}`
	vecRemoteOpen     = `{"id":"8","version":"1.0","params":{},"method":"thing.service.remoteOpen"}`
	vecReplyOK        = `{"id":"8","code":200,"data":{},"message":"success"}`
	vecReplyErr       = `{"id":"9","code":6813,"data":null,"message":"lock driver failed"}`
)

func TestDecodeRequestVectors(t *testing.T) {
	r, err := DecodeRequest([]byte(vecPassEventPost))
	require.NoError(t, err)
	assert.Equal(t, "123", r.ID)
	assert.Equal(t, "thing.event.passEvent.post", r.Method)
	v, at, err := DecodeEventParams(r.Params)
	require.NoError(t, err)
	assert.JSONEq(t, vecPassEventValue, string(v))
	assert.Equal(t, time.UnixMilli(1597821579000), at)

	r, err = DecodeRequest([]byte(vecPropertyPost))
	require.NoError(t, err)
	assert.Equal(t, "123", r.ID, "numeric ids are read as their decimal string")
	props, err := DecodeProperties(r.Params)
	require.NoError(t, err)
	assert.Contains(t, string(props["RSAPublicKey"].Value), "MFwwDQYJ")

	r, err = DecodeRequest([]byte(vecSyncInvoke))
	require.NoError(t, err)
	var p struct {
		PermissionURL string `json:"permissionUrl"`
	}
	require.NoError(t, json.Unmarshal(r.Params, &p))
	assert.Equal(t, "https://product-info.oss-cn-shanghai.aliyuncs.com/test.json", p.PermissionURL)

	r, err = DecodeRequest([]byte(`{"id":"1","method":"thing.service.remoteOpen"}`))
	require.NoError(t, err)
	assert.Equal(t, "{}", string(r.Params), "absent params read as {}")
}

func TestDecodeReplyVectors(t *testing.T) {
	r, err := DecodeReply([]byte(vecReplyOK))
	require.NoError(t, err)
	assert.True(t, r.OK())
	assert.NoError(t, r.Err(DeviceKey{"pk", "dn"}, "thing.service.remoteOpen"))

	r, err = DecodeReply([]byte(vecReplyErr))
	require.NoError(t, err)
	assert.Nil(t, r.Data, "null data reads as nil")
	err = r.Err(DeviceKey{"pk", "dn"}, "thing.service.remoteOpen")
	require.ErrorIs(t, err, ErrRejected)
	var re *ReplyError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 6813, re.Code)
	assert.Equal(t, "lock driver failed", re.Message)

	r, err = DecodeReply([]byte(`{"id":"5","code":"200"}`))
	require.NoError(t, err, "a quoted code is tolerated")
	assert.True(t, r.OK())
}

func TestDecodeBadInputIsTyped(t *testing.T) {
	bad := []string{
		``, `null`, `[]`, `"x"`, `{`, `{"id":"1"}`, `{"method":"m"}`, `{"id":null,"method":"m"}`,
		`{"id":true,"method":"m"}`, `{"id":"","method":"m"}`, `{"id":"1","method":""}`,
		`{"id":"1","method":"m","params":[1]}`, `{"id":1.5,"method":"m"}`,
		`{"id":"` + strings.Repeat("9", 65) + `","method":"m"}`,
	}
	for _, in := range bad {
		_, err := DecodeRequest([]byte(in))
		require.Error(t, err, in)
		assert.ErrorIs(t, err, ErrMalformed, in)
		var de *DecodeError
		assert.ErrorAs(t, err, &de, in)
	}
	for _, in := range []string{`{"id":"1"}`, `{"code":200}`, `{"id":"1","code":"x"}`, `{"id":"1","code":2.5}`, `[`} {
		_, err := DecodeReply([]byte(in))
		assert.ErrorIs(t, err, ErrMalformed, in)
	}
	huge := []byte(`{"id":"1","method":"m","params":{"x":"` + strings.Repeat("a", MaxMessageSize) + `"}}`)
	_, err := DecodeRequest(huge)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = DecodeReply(huge)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestEncodeRoundTrip(t *testing.T) {
	req, err := NewRequest("42", ServiceMethod("remoteOpen"), nil)
	require.NoError(t, err)
	b, err := req.Encode()
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"42","version":"1.0","params":{},"method":"thing.service.remoteOpen"}`, string(b))

	rep := &Reply{ID: "42", Code: CodeOK}
	b, err = rep.Encode()
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"42","code":200,"data":{},"message":"success"}`, string(b))
	got, err := DecodeReply(b)
	require.NoError(t, err)
	assert.Equal(t, "42", got.ID)
}

func TestDecodeProperties(t *testing.T) {
	props, err := DecodeProperties(json.RawMessage(`{"Volume":{"value":30,"time":1524448722000},"Brightness":80,"Struct":{"value":1,"other":2}}`))
	require.NoError(t, err)
	assert.Equal(t, "30", string(props["Volume"].Value))
	assert.Equal(t, time.UnixMilli(1524448722000), props["Volume"].Time)
	assert.Equal(t, "80", string(props["Brightness"].Value))
	assert.True(t, props["Brightness"].Time.IsZero())
	assert.JSONEq(t, `{"value":1,"other":2}`, string(props["Struct"].Value), "a struct that merely has a value field stays whole")
}

func TestTopics(t *testing.T) {
	dev := DeviceKey{"a1PHv5Xn2xX", "xixi"}
	cases := []struct {
		topic string
		kind  TopicKind
		ident string
	}{
		{"/sys/a1PHv5Xn2xX/xixi/thing/event/property/post", TopicPropertyPost, "property"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/event/property/post_reply", TopicPropertyPostReply, "property"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/event/passEvent/post", TopicEventPost, "passEvent"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/event/passEvent/post_reply", TopicEventPostReply, "passEvent"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/service/property/set", TopicPropertySet, "property"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/service/property/set_reply", TopicPropertySetReply, "property"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/service/remoteOpen", TopicService, "remoteOpen"},
		{"/sys/a1PHv5Xn2xX/xixi/thing/service/remoteOpen_reply", TopicServiceReply, "remoteOpen"},
		{"/as/mqtt/status/a1PHv5Xn2xX/xixi", TopicStatus, ""},
	}
	for _, c := range cases {
		tp, err := ParseTopic(c.topic)
		require.NoError(t, err, c.topic)
		assert.Equal(t, c.kind, tp.Kind, c.topic)
		assert.Equal(t, dev, tp.Device, c.topic)
		assert.Equal(t, c.ident, tp.Identifier, c.topic)
		assert.Equal(t, c.topic, tp.String(), "render is the inverse of parse")
	}
	inv, _ := ParseTopic("/sys/a1PHv5Xn2xX/xixi/thing/service/remoteOpen")
	assert.Equal(t, "/sys/a1PHv5Xn2xX/xixi/thing/service/remoteOpen_reply", inv.ReplyTopic().String())
	assert.Equal(t, "thing.service.remoteOpen", inv.Method())
	ev, _ := ParseTopic("/sys/a1PHv5Xn2xX/xixi/thing/event/passEvent/post")
	assert.Equal(t, "thing.event.passEvent.post", ev.Method())
	assert.Equal(t, MethodPropertySet, Topic{Kind: TopicPropertySet}.Method())
	for _, bad := range []string{"", "/sys/", "/sys/pk/dn/thing", "/sys/pk/dn/other/event/x/post", "/sys/pk//thing/event/x/post",
		"/sys/pk/dn/thing/event/x/get", "/sys/pk/dn/thing/service/a/b", "/sys/pk/dn/thing/service/bad-id",
		"/sys/pk/dn/thing/event/x/post/extra", "sys/pk/dn/thing/service/x", "/as/mqtt/status/pk"} {
		_, err := ParseTopic(bad)
		assert.ErrorIs(t, err, ErrBadTopic, bad)
	}
}

// FuzzDecode feeds the codec arbitrary payloads: no panic, typed errors,
// and whatever decodes re-encodes and decodes to the same id.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{vecPassEventPost, vecPropertyPost, vecSyncInvoke, vecRemoteOpen, vecReplyOK, vecReplyErr,
		`{"id":1,"code":"200"}`, `{"id":"1","method":"m","params":null,"sys":{"ack":0}}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := DecodeRequest(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			out, err := req.Encode()
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			again, err := DecodeRequest(out)
			if err != nil || again.ID != req.ID || again.Method != req.Method {
				t.Fatalf("round trip changed %q -> %q (%v)", b, out, err)
			}
			_, _, _ = DecodeEventParams(req.Params)
			_, _ = DecodeProperties(req.Params)
		}
		if rep, err := DecodeReply(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			out, err := rep.Encode()
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			again, err := DecodeReply(out)
			if err != nil || again.ID != rep.ID || again.Code != rep.Code {
				t.Fatalf("round trip changed %q -> %q (%v)", b, out, err)
			}
		}
		_, _ = PeekID(b)
	})
}

// FuzzParseTopic: no panic, and a parsed topic renders back to its input.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"/sys/pk/dn/thing/event/passEvent/post", "/sys/pk/dn/thing/service/remoteOpen_reply",
		"/sys/pk/dn/thing/service/property/set", "/as/mqtt/status/pk/dn", "/sys/pk/dn/thing/event/property/post_reply"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTopic(s)
		if err != nil {
			if !errors.Is(err, ErrBadTopic) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if tp.String() != s {
			t.Fatalf("parse(%q) renders as %q", s, tp.String())
		}
	})
}
