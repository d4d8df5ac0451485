package qrcode

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// ParsePublicKey accepts every form the RSAPublicKey property takes in the
// field: Base64 of a DER SubjectPublicKeyInfo (the property value; white
// space and line breaks inside are ignored), PEM "PUBLIC KEY" (SPKI) or
// "RSA PUBLIC KEY" (PKCS#1), and raw DER of either. Errors match ErrKey.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	return ParsePublicKeyBytes([]byte(s))
}

// ParsePublicKeyBytes is ParsePublicKey for file contents (PEM, DER or the
// Base64 text).
func ParsePublicKeyBytes(b []byte) (*rsa.PublicKey, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrKey)
	}
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		blk, _ := pem.Decode(trimmed)
		if blk == nil {
			return nil, fmt.Errorf("%w: bad PEM", ErrKey)
		}
		switch blk.Type {
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			return parsePublicDER(blk.Bytes)
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			return nil, fmt.Errorf("%w: PEM block %q is a private key; give the public key", ErrKey, blk.Type)
		default:
			return nil, fmt.Errorf("%w: PEM block %q is not a public key", ErrKey, blk.Type)
		}
	}
	if trimmed[0] == 0x30 { // ASN.1 SEQUENCE: raw DER
		if pub, err := parsePublicDER(trimmed); err == nil {
			return pub, nil
		}
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, string(trimmed))
	der, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		if der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
			return nil, fmt.Errorf("%w: neither PEM, DER nor Base64", ErrKey)
		}
	}
	return parsePublicDER(der)
}

func parsePublicDER(der []byte) (*rsa.PublicKey, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T is not an RSA key", ErrKey, k)
		}
		return pub, checkPublic(pub)
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: DER is neither SubjectPublicKeyInfo nor PKCS#1", ErrKey)
	}
	return pub, checkPublic(pub)
}

func checkPublic(pub *rsa.PublicKey) error {
	switch {
	case pub == nil || pub.N == nil:
		return fmt.Errorf("%w: nil key", ErrKey)
	case pub.N.Sign() <= 0 || pub.N.Bit(0) == 0:
		return fmt.Errorf("%w: modulus must be odd and positive", ErrKey)
	case pub.N.BitLen() < 256:
		// Below 256 bits no "code:expiry" fits after the 11 bytes of padding.
		return fmt.Errorf("%w: %d-bit modulus is too small", ErrKey, pub.N.BitLen())
	case pub.E < 3 || pub.E&1 == 0:
		return fmt.Errorf("%w: public exponent %d", ErrKey, pub.E)
	}
	return nil
}

// MarshalPublicKey returns the RSAPublicKey property value: standard Base64
// of the DER SubjectPublicKeyInfo.
func MarshalPublicKey(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrKey, err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// EncodePublicKeyPEM returns the key as PEM "PUBLIC KEY" (SPKI).
func EncodePublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// EncodePrivateKeyPEM returns the key as PEM "PRIVATE KEY" (PKCS#8), the
// form `openssl genpkey` writes and every tool reads.
func EncodePrivateKeyPEM(priv *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads an RSA private key from PEM ("PRIVATE KEY" PKCS#8 or
// "RSA PRIVATE KEY" PKCS#1) or DER of either. 512-bit keys are accepted.
func ParsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	der := bytes.TrimSpace(b)
	if blk, _ := pem.Decode(der); blk != nil {
		der = blk.Bytes
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		priv, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T is not an RSA key", ErrKey, k)
		}
		return priv, checkPublic(&priv.PublicKey)
	}
	priv, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not an RSA private key in PKCS#8 or PKCS#1", ErrKey)
	}
	return priv, checkPublic(&priv.PublicKey)
}

// GenerateKey makes an RSA key pair with e = 65537. Unlike rsa.GenerateKey
// it also makes keys under 1024 bits (the platform uses 512), which Go
// refuses without GODEBUG=rsa1024min=0. bits must be 512 or more; from 1024
// bits on it simply calls rsa.GenerateKey. random nil means crypto/rand.
//
// Keys under 2048 bits are for compatibility and tests only: a 512-bit
// modulus can be factored in hours.
func GenerateKey(random io.Reader, bits int) (*rsa.PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	if bits < 512 {
		return nil, fmt.Errorf("%w: %d bits; at least 512", ErrKey, bits)
	}
	if bits >= 1024 {
		return rsa.GenerateKey(random, bits)
	}
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(random, (bits+1)/2)
		if err != nil {
			return nil, err
		}
		q, err := rand.Prime(random, bits/2)
		if err != nil {
			return nil, err
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		p1 := new(big.Int).Sub(p, one)
		q1 := new(big.Int).Sub(q, one)
		// d = e^-1 mod lcm(p-1, q-1); ModInverse returns nil when not coprime.
		g := new(big.Int).GCD(nil, nil, p1, q1)
		lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), g)
		d := new(big.Int).ModInverse(e, lambda)
		if d == nil {
			continue
		}
		priv := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: n, E: 65537},
			D:         d,
			Primes:    []*big.Int{p, q},
		}
		if err := priv.Validate(); err != nil {
			return nil, err
		}
		priv.Precompute()
		return priv, nil
	}
}
