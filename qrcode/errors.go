package qrcode

import "errors"

// Sentinel errors. Every error returned by this package matches one of them
// with errors.Is; wrapping adds detail for logs only.
var (
	// ErrMalformed: the scanned text is not Base64 of exactly one key-size
	// block (too long, bad alphabet, wrong length). A product barcode or a
	// URL read by the same camera ends here.
	ErrMalformed = errors.New("qrcode: malformed input")
	// ErrBadSignature: the block does not recover to PKCS#1 v1.5 type-1
	// padding under this key (wrong or rotated key, tampering, c >= n,
	// type-2/OAEP input).
	ErrBadSignature = errors.New("qrcode: signature/padding check failed")
	// ErrBadPayload: the signature is good but the plaintext is not
	// "code:expiry" (no colon, empty code, bad timestamp, non-printable).
	ErrBadPayload = errors.New("qrcode: bad plaintext")
	// ErrExpired: the embedded expiry is earlier than now minus the skew.
	// Verify returns the decoded Payload alongside it.
	ErrExpired = errors.New("qrcode: code has expired")
	// ErrKey: a key could not be parsed, is not RSA, or is unusable.
	ErrKey = errors.New("qrcode: bad key")
)
