package hciot

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// Sign is HC's request signature (accessctl/PLATFORMS.md §1.4): the
// lower-case hex MD5 of transactionID, reqTime, appID, payload and
// securityCode concatenated with no separators. payload is the request body
// exactly as sent, or for a GET "?" followed by the unescaped query.
func Sign(transactionID, reqTime, appID string, payload []byte, securityCode string) string {
	h := md5.New()
	h.Write([]byte(transactionID))
	h.Write([]byte(reqTime))
	h.Write([]byte(appID))
	h.Write(payload)
	h.Write([]byte(securityCode))
	var sum [md5.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// VerifySign reports whether sign is the signature of the request, compared
// case-insensitively as HC does.
func VerifySign(sign, transactionID, reqTime, appID string, payload []byte, securityCode string) bool {
	want := Sign(transactionID, reqTime, appID, payload, securityCode)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(sign)), []byte(want)) == 1
}

// Headers are the HC gateway headers of a signed request.
type Headers struct {
	AppID         string
	TransactionID string
	ReqTime       string
	UserID        string
	Sign          string
}

// ParseHeaders reads the HC headers the way HC's gateway does: hyphen or
// underscore spellings, the hyphen winning.
func ParseHeaders(h http.Header) Headers {
	get := func(name string) string {
		if v := h.Get(name); v != "" {
			return v
		}
		return h.Get(strings.ReplaceAll(name, "-", "_"))
	}
	return Headers{
		AppID:         get("app-id"),
		TransactionID: get("transaction-id"),
		ReqTime:       get("req-time"),
		UserID:        get("user-id"),
		Sign:          get("sign"),
	}
}

// Set writes the headers onto an outgoing request, sign included even when
// empty (HC expects the header).
func (hd Headers) Set(h http.Header) {
	h.Set("app-id", hd.AppID)
	h.Set("transaction-id", hd.TransactionID)
	h.Set("req-time", hd.ReqTime)
	h.Set("user-id", hd.UserID)
	h.Set("sign", hd.Sign)
}
