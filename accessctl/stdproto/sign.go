package stdproto

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
)

// Sign methods of /connect (spec B.4).
const (
	SignMD5    = "md5"
	SignSHA1   = "sha1"
	SignSHA256 = "sha256"
)

// SignString is the text a /connect sign hashes, in the form that reproduces
// the source's example: the braces are literal characters (spec B.4, C.B.1).
func SignString(unixSec string, mac, sn, ip string) string {
	return "TIME{" + unixSec + "}MAC{" + mac + "}SN{" + sn + "}IP{" + ip + "}"
}

// signStringBare is the brace-less reading of the prose, accepted on verify.
func signStringBare(unixSec string, mac, sn, ip string) string {
	return "TIME" + unixSec + "MAC" + mac + "SN" + sn + "IP" + ip
}

// normMethod returns the canonical method name for md5, MD5, sha-1, SHA256...
func normMethod(m string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(m)), "-", "")
}

func newHash(method string) hash.Hash {
	switch normMethod(method) {
	case SignMD5:
		return md5.New()
	case SignSHA1:
		return sha1.New()
	case SignSHA256:
		return sha256.New()
	}
	return nil
}

// Sign computes a /connect sign as a sender must: lower-case hex of the hash
// of SignString. It fails only for an unknown method.
func Sign(method string, unixSec int64, mac, sn, ip string) (string, error) {
	h := newHash(method)
	if h == nil {
		return "", badParam("unknown signMethod %q", method)
	}
	h.Write([]byte(SignString(strconv.FormatInt(unixSec, 10), mac, sn, ip)))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifySign checks a /connect request's sign liberally (spec B.4): the
// method in any case with or without a hyphen, inferred from the digest
// length when missing; the digest in any case; over the braces form or the
// brace-less form; over the time exactly as sent. An unknown method is a
// parameter error (code 5), a mismatch ErrBadSign (code 6).
func VerifySign(r *ConnectRequest) error {
	method := r.SignMethod
	if strings.TrimSpace(method) == "" {
		switch len(r.Sign) {
		case 32:
			method = SignMD5
		case 40:
			method = SignSHA1
		case 64:
			method = SignSHA256
		}
	}
	if newHash(method) == nil {
		return badParam("unknown signMethod %q", r.SignMethod)
	}
	got := []byte(strings.ToLower(strings.TrimSpace(r.Sign)))
	for _, s := range []string{
		SignString(string(r.Time), r.MAC, r.SN, r.IP),
		signStringBare(string(r.Time), r.MAC, r.SN, r.IP),
	} {
		h := newHash(method)
		h.Write([]byte(s))
		want := []byte(hex.EncodeToString(h.Sum(nil)))
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return ErrBadSign
}
