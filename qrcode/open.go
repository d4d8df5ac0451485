package qrcode

import (
	"crypto/rsa"
	"fmt"
	"math/big"
	"math/bits"
	"time"
)

// MaxInput is the longest scanned text Open looks at (or twice the code
// length for keys above 6144 bits); longer input is rejected before
// decoding, a cheap guard against a camera streaming junk.
const MaxInput = 1024

// Payload is what a valid code carries.
type Payload struct {
	Code      string    // the permission key, compared byte-exact with qrCodePermissionList
	ExpiresAt time.Time // embedded expiry (second precision); the code is valid through this second
	Plaintext string    // the recovered "code:expiry" text
}

// Key is a public key prepared for fast, allocation-light Open calls: the
// Montgomery constants are computed once. A Key is immutable and safe for
// concurrent use.
type Key struct {
	pub  *rsa.PublicKey
	k    int // modulus length in bytes
	m    *mont
	prop string // RSAPublicKey property form, computed lazily
}

// NewKey prepares pub for Open.
func NewKey(pub *rsa.PublicKey) (*Key, error) {
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	key := &Key{pub: pub, k: (pub.N.BitLen() + 7) / 8}
	if (pub.N.BitLen()+63)/64 <= maxLimbs && bits.UintSize == 64 {
		key.m = newMont(pub.N, pub.E)
	}
	if s, err := MarshalPublicKey(pub); err == nil {
		key.prop = s
	}
	return key, nil
}

// ParseKey is ParsePublicKey followed by NewKey.
func ParseKey(s string) (*Key, error) {
	pub, err := ParsePublicKey(s)
	if err != nil {
		return nil, err
	}
	return NewKey(pub)
}

// Public returns the RSA public key.
func (k *Key) Public() *rsa.PublicKey { return k.pub }

// Size is the modulus length in bytes (64 for the platform's RSA-512).
func (k *Key) Size() int { return k.k }

// EncodedLen is the length of a code's text: 4·⌈k/3⌉, 88 for RSA-512.
func (k *Key) EncodedLen() int { return (k.k + 2) / 3 * 4 }

// String returns the RSAPublicKey property value (Base64 SPKI DER).
func (k *Key) String() string { return k.prop }

// Open is NewKey(pub) followed by Key.Open. Keep a Key when opening many
// codes with the same public key.
func Open(pub *rsa.PublicKey, scanned string) (Payload, error) {
	k, err := NewKey(pub)
	if err != nil {
		return Payload{}, err
	}
	return k.Open(scanned)
}

// Verify opens the code and checks its embedded expiry: a code whose
// expiry second is earlier than now − skew returns ErrExpired together with
// the decoded Payload (the door still needs the code for its pass event).
// A code expiring in the current second is valid.
func (k *Key) Verify(scanned string, now time.Time, skew time.Duration) (Payload, error) {
	p, err := k.Open(scanned)
	if err != nil {
		return p, err
	}
	if p.ExpiresAt.Unix() < now.Add(-skew).Unix() {
		return p, ErrExpired
	}
	return p, nil
}

// Open recovers the payload of a scanned code (spec §4.5): trim, lenient
// Base64 decode, RSA public operation, PKCS#1 v1.5 type-1 unpadding, then
// "code:expiry" parsing. It does not look at the clock; see Verify. Errors
// match ErrMalformed, ErrBadSignature or ErrBadPayload and never allocate.
func (k *Key) Open(scanned string) (Payload, error) {
	s := trimSpace(scanned)
	if len(s) > max(MaxInput, 2*k.EncodedLen()) { // keys over 6144 bits need more than 1024
		return Payload{}, ErrMalformed
	}
	// The decoded block, then the recovered EM. Room for k+2 bytes is
	// enough to tell "too long" (any length but k is malformed).
	var stack [maxLimbs*8 + 2]byte
	em := stack[:]
	if k.k+2 > len(em) {
		em = make([]byte, k.k+2)
	}
	n, ok := decodeBase64(em[:k.k+2], s)
	if !ok || n != k.k {
		return Payload{}, ErrMalformed
	}
	if !k.publicOp(em[:k.k]) {
		return Payload{}, ErrBadSignature
	}
	msg, ok := unpadType1(em[:k.k])
	if !ok {
		return Payload{}, ErrBadSignature
	}
	return parsePlaintext(msg)
}

// publicOp replaces block (k bytes, big-endian) with block^e mod n. It
// reports false when block ≥ n.
func (k *Key) publicOp(block []byte) bool {
	if k.m == nil {
		return publicOpBig(k.pub, block)
	}
	var cb, ob [maxLimbs]uint64
	s := len(k.m.n)
	c, out := cb[:s], ob[:s]
	bytesToLimbs(c, block)
	if !less(c, k.m.n) {
		return false
	}
	if s == 8 {
		k.m.exp8(out, c)
	} else {
		k.m.exp(out, c)
	}
	limbsToBytes(block, out)
	return true
}

// publicOpBig is the textbook math/big version: the fallback for huge keys
// and the reference the fast path is tested against.
func publicOpBig(pub *rsa.PublicKey, block []byte) bool {
	c := new(big.Int).SetBytes(block)
	if c.Cmp(pub.N) >= 0 {
		return false
	}
	c.Exp(c, big.NewInt(int64(pub.E)), pub.N)
	c.FillBytes(block)
	return true
}

func bytesToLimbs(z []uint64, b []byte) {
	clear(z)
	for i, j := len(b)-1, 0; i >= 0; i, j = i-1, j+1 {
		z[j/8] |= uint64(b[i]) << (8 * uint(j%8))
	}
}

func limbsToBytes(b []byte, z []uint64) {
	for i, j := len(b)-1, 0; i >= 0; i, j = i-1, j+1 {
		b[i] = byte(z[j/8] >> (8 * uint(j%8)))
	}
}

// unpadType1 checks 00 01 FF…FF(≥8) 00 and returns the message.
func unpadType1(em []byte) ([]byte, bool) {
	if len(em) < 11 || em[0] != 0 || em[1] != 1 {
		return nil, false
	}
	i := 2
	for i < len(em) && em[i] == 0xFF {
		i++
	}
	if i == len(em) || em[i] != 0 || i-2 < 8 {
		return nil, false
	}
	return em[i+1:], true
}

// epochMsFloor: a timestamp at or above 10^11 is read as epoch-ms (spec §3.2).
const epochMsFloor = 100_000_000_000

func parsePlaintext(p []byte) (Payload, error) {
	if len(p) < 3 {
		return Payload{}, ErrBadPayload
	}
	colon := -1
	for i, c := range p {
		if c < 0x21 || c > 0x7E {
			return Payload{}, ErrBadPayload
		}
		if c == ':' {
			colon = i
		}
	}
	if colon <= 0 {
		return Payload{}, ErrBadPayload
	}
	ts, ok := parseDigits(p[colon+1:])
	if !ok {
		return Payload{}, ErrBadPayload
	}
	if ts >= epochMsFloor {
		ts /= 1000
	}
	text := string(p)
	return Payload{Code: text[:colon], ExpiresAt: time.Unix(ts, 0), Plaintext: text}, nil
}

// parseDigits reads 1–19 ASCII digits into a non-negative int64.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 1<<63-1 { // 19 digits can exceed int64; no wrap since 10^19 < 2^64
		return 0, false
	}
	return int64(v), true
}

func trimSpace(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' }
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// b64 maps both the standard and the URL-safe alphabet (spec §4.5 step 2
// leniency; the signature authenticates whatever bytes come out).
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// decodeBase64 decodes s into dst, accepting either alphabet, optional
// '=' padding (when present it must be complete) and CR/LF inside, like
// encoding/base64. It reports the byte count and false on bad input or
// when dst is too small.
func decodeBase64(dst []byte, s string) (int, bool) {
	var acc uint32
	var nacc, n, chars, pads int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			continue
		}
		if c == '=' {
			pads++
			continue
		}
		if pads > 0 { // data after padding
			return 0, false
		}
		v := b64[c]
		if v == 0xFF {
			return 0, false
		}
		chars++
		acc = acc<<6 | uint32(v)
		nacc++
		if nacc == 4 {
			if n+3 > len(dst) {
				return 0, false
			}
			dst[n], dst[n+1], dst[n+2] = byte(acc>>16), byte(acc>>8), byte(acc)
			n += 3
			acc, nacc = 0, 0
		}
	}
	switch nacc {
	case 1:
		return 0, false
	case 2:
		if n+1 > len(dst) {
			return 0, false
		}
		dst[n] = byte(acc >> 4)
		n++
	case 3:
		if n+2 > len(dst) {
			return 0, false
		}
		dst[n], dst[n+1] = byte(acc>>10), byte(acc>>2)
		n += 2
	}
	if pads > 0 && (chars+pads)%4 != 0 || pads > 2 {
		return 0, false
	}
	return n, true
}

// String renders a payload for logs.
func (p Payload) String() string {
	return fmt.Sprintf("%s (expires %s)", p.Code, p.ExpiresAt.UTC().Format(time.RFC3339))
}
