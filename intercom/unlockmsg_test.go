package intercom

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Exact bodies from the spec (§6.1): S1 with "sip", S4 without, the reply.
const (
	specS1Request = "{\n    \"req\":\"unlock\",\n    \"reqsn\":100,\n    \"sip\":\"M124123123\"\n}"
	specS4Request = "{\n\n\"req\":\"unlock\",\n\n\"reqsn\":100\n\n}"
	specReply     = "{\n\"res\":\"unlock\",\n\"reqsn\":100,\n\"status\":200\n}"
)

func TestParseUnlockCommandSpecVectors(t *testing.T) {
	c, err := ParseUnlockCommand([]byte(specS1Request))
	require.NoError(t, err)
	assert.Equal(t, UnlockCommand{Req: "unlock", ReqSN: 100, SIP: "M124123123"}, c)

	c, err = ParseUnlockCommand([]byte(specS4Request))
	require.NoError(t, err)
	assert.Equal(t, UnlockCommand{Req: "unlock", ReqSN: 100}, c, "S4 omits sip")

	r, err := ParseUnlockReply([]byte(specReply))
	require.NoError(t, err)
	assert.Equal(t, UnlockReply{Res: "unlock", ReqSN: 100, Status: 200}, r)
	assert.True(t, r.OK())
}

func TestParseUnlockCommandLeniency(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		want UnlockCommand
	}{
		"form":          {"req=unlock&reqsn=100&sip=M124123123", UnlockCommand{"unlock", 100, "M124123123"}},
		"reqsn string":  {`{"req":"unlock","reqsn":"7","sip":"a"}`, UnlockCommand{"unlock", 7, "a"}},
		"reqsn spaced":  {`{"req":"unlock","reqsn":" 7 "}`, UnlockCommand{"unlock", 7, ""}},
		"bom and space": {"\xef\xbb\xbf  {\"req\":\"unlock\",\"reqsn\":1}\r\n", UnlockCommand{"unlock", 1, ""}},
		"unknown req":   {`{"req":"reboot","reqsn":3}`, UnlockCommand{"reboot", 3, ""}},
		"extra fields":  {`{"req":"unlock","reqsn":3,"x":[1,2]}`, UnlockCommand{"unlock", 3, ""}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := ParseUnlockCommand([]byte(tc.body))
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
		})
	}
}

func TestParseUnlockCommandMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          "",
		"not json":       "{req:unlock}",
		"truncated":      `{"req":"unlock","reqsn":1`,
		"missing reqsn":  `{"req":"unlock"}`,
		"missing req":    `{"reqsn":1}`,
		"reqsn float":    `{"req":"unlock","reqsn":1.5}`,
		"reqsn word":     `{"req":"unlock","reqsn":"one"}`,
		"reqsn negative": `{"req":"unlock","reqsn":-4}`,
		"reqsn huge":     `{"req":"unlock","reqsn":99999999999}`,
		"array":          `[1,2]`,
		"form no req":    "reqsn=1",
		"form bad sn":    "req=unlock&reqsn=x",
		"too large":      `{"req":"unlock","reqsn":1,"pad":"` + string(make([]byte, MaxBodySize)) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseUnlockCommand([]byte(body))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed), "%v", err)
		})
	}
}

func TestUnlockMarshal(t *testing.T) {
	assert.Equal(t, `{"req":"unlock","reqsn":100,"sip":"M124123123"}`, string(UnlockCommand{"unlock", 100, "M124123123"}.Marshal()))
	assert.Equal(t, `{"res":"unlock","reqsn":100,"status":200}`, string(UnlockReply{"unlock", 100, 200}.Marshal()))
	// Odd characters are escaped as JSON, and the result parses back.
	c := UnlockCommand{"unlock", 5, "a\"b\\c\n门"}
	back, err := ParseUnlockCommand(c.Marshal())
	require.NoError(t, err)
	assert.Equal(t, c, back)
}

func TestReqSNWrap(t *testing.T) {
	assert.Equal(t, 1, nextReqSN(999), "999 wraps to 1")
	assert.Equal(t, 1, nextReqSN(0), "never 0")
	assert.Equal(t, 101, nextReqSN(100))
	ep := &Endpoint{}
	ep.reqsn.Store(998)
	assert.Equal(t, 999, ep.nextReqSN())
	assert.Equal(t, 1, ep.nextReqSN())
}

func FuzzParseUnlockCommand(f *testing.F) {
	for _, s := range []string{specS1Request, specS4Request, specReply, "req=unlock&reqsn=100&sip=M124123123",
		`{"req":"unlock","reqsn":"7"}`, `{"res":"unlock","reqsn":100,"status":200}`, "", "{", `{"reqsn":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseUnlockCommand(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			// What we accept must survive our own encoding.
			back, err := ParseUnlockCommand(c.Marshal())
			if err != nil || back.ReqSN != c.ReqSN || back.Req != c.Req {
				t.Fatalf("round trip %+v -> %+v, %v", c, back, err)
			}
		}
		if _, err := ParseUnlockReply(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("untyped reply error %v", err)
		}
	})
}
