package intercom

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodySize bounds every body we parse; unlock commands are ~60 bytes.
const MaxBodySize = 4096

// JSON status codes the door station answers with (§12 row 6).
const (
	StatusOK          = 200
	StatusMalformed   = 400
	StatusForbidden   = 403
	StatusUnknownReq  = 404
	StatusLockBusy    = 423
	StatusDriverError = 500
	StatusDisabled    = 503
)

// UnlockCommand is the request body of §6.1: {"req":"unlock","reqsn":N,"sip":"…"}.
type UnlockCommand struct {
	Req   string // "unlock"
	ReqSN int    // 1–999, cycling; a duplicate keeps the same value
	SIP   string // initiator's SIP number; optional on receive (S4 omits it)
}

// UnlockReply is the response body of §6.1: {"res":"unlock","reqsn":N,"status":200}.
type UnlockReply struct {
	Res    string
	ReqSN  int
	Status int
}

// OK reports whether the reply says the door opened.
func (r UnlockReply) OK() bool { return r.Status == StatusOK }

// flexInt accepts a JSON number or a numeric string (§6.5).
type flexInt struct {
	v   int
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return malformed("not an integer: %.20q", s)
	}
	f.v, f.set = int(n), true
	return nil
}

// ParseUnlockCommand decodes an unlock request body, leniently per §6.5:
// JSON or URL-encoded form decided by content, reqsn as number or string,
// sip optional. A body that cannot be read returns an error wrapping
// ErrMalformed; the Req field is kept when it could be read so the caller can
// echo it in the 400 reply.
func ParseUnlockCommand(body []byte) (UnlockCommand, error) {
	var c UnlockCommand
	if len(body) > MaxBodySize {
		return c, malformed("body of %d bytes", len(body))
	}
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(body) == 0 {
		return c, malformed("empty body")
	}
	var sn flexInt
	if body[0] == '{' {
		var m struct {
			Req   *string `json:"req"`
			ReqSN flexInt `json:"reqsn"`
			SIP   *string `json:"sip"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return c, malformed("json: %v", err)
		}
		if m.Req != nil {
			c.Req = *m.Req
		}
		if m.SIP != nil {
			c.SIP = *m.SIP
		}
		sn = m.ReqSN
		if m.Req == nil {
			return c, malformed("missing req")
		}
	} else {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return c, malformed("form: %v", err)
		}
		if !q.Has("req") {
			return c, malformed("missing req")
		}
		c.Req, c.SIP = q.Get("req"), q.Get("sip")
		if !utf8.ValidString(c.Req) || !utf8.ValidString(c.SIP) {
			c.Req = ""
			return c, malformed("form value is not UTF-8")
		}
		if v := q.Get("reqsn"); v != "" {
			if err := sn.UnmarshalJSON([]byte(strconv.Quote(v))); err != nil {
				return c, err
			}
		}
	}
	if !sn.set {
		return c, malformed("missing reqsn")
	}
	if sn.v < 0 {
		return c, malformed("negative reqsn %d", sn.v)
	}
	c.ReqSN = sn.v
	return c, nil
}

// ParseUnlockReply decodes a reply body ({"res","reqsn","status"}), JSON or form.
func ParseUnlockReply(body []byte) (UnlockReply, error) {
	var r UnlockReply
	if len(body) > MaxBodySize {
		return r, malformed("body of %d bytes", len(body))
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return r, malformed("empty body")
	}
	var sn, st flexInt
	if body[0] == '{' {
		var m struct {
			Res    *string `json:"res"`
			ReqSN  flexInt `json:"reqsn"`
			Status flexInt `json:"status"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return r, malformed("json: %v", err)
		}
		if m.Res == nil {
			return r, malformed("missing res")
		}
		r.Res, sn, st = *m.Res, m.ReqSN, m.Status
	} else {
		q, err := url.ParseQuery(string(body))
		if err != nil || !q.Has("res") {
			return r, malformed("not an unlock reply")
		}
		r.Res = q.Get("res")
		if err := sn.UnmarshalJSON([]byte(strconv.Quote(q.Get("reqsn")))); err != nil {
			return r, err
		}
		if err := st.UnmarshalJSON([]byte(strconv.Quote(q.Get("status")))); err != nil {
			return r, err
		}
	}
	if !sn.set || !st.set {
		return r, malformed("missing reqsn or status")
	}
	r.ReqSN, r.Status = sn.v, st.v
	return r, nil
}

// Marshal renders the compact JSON body we send (all three fields, §6.5).
func (c UnlockCommand) Marshal() []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"req":`...)
	b = appendJSONString(b, c.Req)
	b = append(b, `,"reqsn":`...)
	b = strconv.AppendInt(b, int64(c.ReqSN), 10)
	b = append(b, `,"sip":`...)
	b = appendJSONString(b, c.SIP)
	return append(b, '}')
}

// Marshal renders the compact JSON reply body.
func (r UnlockReply) Marshal() []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"res":`...)
	b = appendJSONString(b, r.Res)
	b = append(b, `,"reqsn":`...)
	b = strconv.AppendInt(b, int64(r.ReqSN), 10)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// nextReqSN implements the 1–999 cycle: 999 is followed by 1, never 0.
func nextReqSN(prev int) int {
	if prev < 1 || prev >= 999 {
		return 1
	}
	return prev + 1
}
