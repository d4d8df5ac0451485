package qrcode

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// Seal mints the scannable text for code, valid through expiry (second
// precision): PKCS#1 v1.5 type-1 padding over "code:unix" transformed with
// the private key, in standard padded Base64. It is deterministic, so it
// reproduces the platform's encrypt API byte for byte.
//
// Keys of 1024 bits and more go through crypto/rsa; smaller keys (the
// platform's 512) through a math/big private operation, checked with the
// public key before returning. That path is not constant-time: use it for
// simulators, tests and legacy platforms, never for new keys.
func Seal(priv *rsa.PrivateKey, code string, expiry time.Time) (string, error) {
	if priv == nil {
		return "", fmt.Errorf("%w: nil private key", ErrKey)
	}
	if err := checkPublic(&priv.PublicKey); err != nil {
		return "", err
	}
	if code == "" {
		return "", fmt.Errorf("%w: empty code", ErrBadPayload)
	}
	for i := range len(code) {
		if c := code[i]; c < 0x21 || c > 0x7E {
			return "", fmt.Errorf("%w: code byte %#x is not printable ASCII", ErrBadPayload, c)
		}
	}
	if expiry.Unix() < 0 || expiry.Unix() >= epochMsFloor {
		return "", fmt.Errorf("%w: expiry %d outside 0..10^11 epoch seconds", ErrBadPayload, expiry.Unix())
	}
	msg := code + ":" + strconv.FormatInt(expiry.Unix(), 10)
	k := (priv.N.BitLen() + 7) / 8
	if len(msg) > k-11 {
		return "", fmt.Errorf("%w: %q is %d bytes, a %d-bit key carries at most %d", ErrBadPayload, msg, len(msg), priv.N.BitLen(), k-11)
	}
	var sig []byte
	if priv.N.BitLen() >= 1024 {
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, priv, crypto.Hash(0), []byte(msg)); err != nil {
			return "", fmt.Errorf("%w: %v", ErrKey, err)
		}
	} else {
		var err error
		if sig, err = signSmall(priv, []byte(msg), k); err != nil {
			return "", err
		}
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// signSmall is the RSA private operation with CRT in math/big.
func signSmall(priv *rsa.PrivateKey, msg []byte, k int) ([]byte, error) {
	em := make([]byte, k)
	em[1] = 1
	for i := 2; i < k-len(msg)-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-len(msg):], msg)
	m := new(big.Int).SetBytes(em)
	var s *big.Int
	if len(priv.Primes) == 2 && priv.Precomputed.Dp != nil && priv.Precomputed.Dq != nil && priv.Precomputed.Qinv != nil {
		p, q := priv.Primes[0], priv.Primes[1]
		m1 := new(big.Int).Exp(m, priv.Precomputed.Dp, p)
		m2 := new(big.Int).Exp(m, priv.Precomputed.Dq, q)
		h := m1.Sub(m1, m2)
		h.Mul(h, priv.Precomputed.Qinv).Mod(h, p)
		s = h.Mul(h, q).Add(h, m2)
	} else {
		s = new(big.Int).Exp(m, priv.D, priv.N)
	}
	// Check with the public key: a faulty private key (or a CRT fault)
	// must not leave here.
	chk := new(big.Int).Exp(s, big.NewInt(int64(priv.E)), priv.N)
	if chk.Cmp(m) != 0 {
		return nil, fmt.Errorf("%w: private key does not match its public half", ErrKey)
	}
	return s.FillBytes(make([]byte, k)), nil
}
