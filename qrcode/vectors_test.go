package qrcode

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The spec's vectors, under the short names the tests use.
const (
	sampleKey     = qrcodetest.SampleKey
	samplePEM     = qrcodetest.SampleKeyPEM
	sampleModulus = qrcodetest.SampleModulus
	q1            = qrcodetest.Q1
	q2            = qrcodetest.Q2
	testPrivPEM   = qrcodetest.TestPrivateKeyPEM
	testPub       = qrcodetest.TestKey
	t1, t2, t3    = qrcodetest.T1, qrcodetest.T2, qrcodetest.T3
	t4, t5, t6    = qrcodetest.T4, qrcodetest.T5, qrcodetest.T6
	n1            = qrcodetest.N1
)

var sealExpiry = time.Unix(4102444800, 0)

func mustKey(t testing.TB, s string) *Key {
	t.Helper()
	k, err := ParseKey(s)
	require.NoError(t, err)
	return k
}

func TestParsePublicKeyForms(t *testing.T) {
	der, err := base64.StdEncoding.DecodeString(sampleKey)
	require.NoError(t, err)
	spki, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	pkcs1DER := x509.MarshalPKCS1PublicKey(spki.(*rsa.PublicKey))
	pkcs1PEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1DER}))
	wrapped := sampleKey[:40] + "\r\n" + sampleKey[40:80] + "\n  " + sampleKey[80:]

	for name, in := range map[string]string{
		"property base64 SPKI":     sampleKey,
		"property with whitespace": "  " + wrapped + "\n",
		"property without padding": strings.TrimRight(sampleKey, "="),
		"PEM SPKI":                 samplePEM,
		"PEM PKCS#1":               pkcs1PEM,
		"DER SPKI":                 string(der),
		"DER PKCS#1":               string(pkcs1DER),
		"base64 PKCS#1 (bare DER)": base64.StdEncoding.EncodeToString(pkcs1DER),
	} {
		t.Run(name, func(t *testing.T) {
			pub, err := ParsePublicKey(in)
			require.NoError(t, err)
			assert.Equal(t, 512, pub.N.BitLen())
			assert.Equal(t, 65537, pub.E)
			assert.Equal(t, sampleModulus, strings.ToUpper(pub.N.Text(16)))
			prop, err := MarshalPublicKey(pub)
			require.NoError(t, err)
			assert.Equal(t, sampleKey, prop, "round trip to the property form")
		})
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	priv, err := ParsePrivateKey([]byte(testPrivPEM))
	require.NoError(t, err)
	ecDER, _ := base64.StdEncoding.DecodeString("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9q9UdMvNyEqjEe3qiVeuPaTN1XpWgaSLkW3UP7MnvSiW9TVlrTwOmFd9lmw==")
	for name, in := range map[string]string{
		"empty":           "   ",
		"garbage":         "not a key !!",
		"base64 not DER":  base64.StdEncoding.EncodeToString([]byte("hello world")),
		"truncated":       sampleKey[:60],
		"private PEM":     testPrivPEM,
		"certificate PEM": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"EC key":          base64.StdEncoding.EncodeToString(ecDER),
		"broken PEM":      "-----BEGIN PUBLIC KEY-----\n!!!\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePublicKey(in)
			require.ErrorIs(t, err, ErrKey)
		})
	}
	even := &rsa.PublicKey{N: new(big.Int).Lsh(priv.N, 1), E: 65537}
	_, err = NewKey(even)
	require.ErrorIs(t, err, ErrKey)
	_, err = NewKey(&rsa.PublicKey{N: priv.N, E: 1})
	require.ErrorIs(t, err, ErrKey)
}

func TestOfficialVectors(t *testing.T) {
	k := mustKey(t, sampleKey)
	assert.Equal(t, 64, k.Size())
	assert.Equal(t, 88, k.EncodedLen())
	assert.Equal(t, sampleKey, k.String())

	for _, tc := range []struct {
		name, in, plain string
		expires         int64
	}{
		{"Q1", q1, "ALIF24DD9END8CD3:1661011200", 1661011200},
		{"Q2", q2, "ALIF24DD9END8CD3:1597939200", 1597939200},
		{"Q1 CRLF", q1 + "\r\n", "ALIF24DD9END8CD3:1661011200", 1661011200},
		{"Q1 URL-safe", strings.ReplaceAll(q1, "/", "_"), "ALIF24DD9END8CD3:1661011200", 1661011200},
		{"Q1 no padding", strings.TrimSuffix(q1, "=="), "ALIF24DD9END8CD3:1661011200", 1661011200},
		{"Q2 URL-safe no padding", strings.TrimSuffix(strings.NewReplacer("+", "-", "/", "_").Replace(q2), "=="), "ALIF24DD9END8CD3:1597939200", 1597939200},
		{"Q1 spaces around", "  \t" + q1 + " ", "ALIF24DD9END8CD3:1661011200", 1661011200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := k.Open(tc.in)
			require.NoError(t, err)
			assert.Equal(t, "ALIF24DD9END8CD3", p.Code)
			assert.Equal(t, tc.plain, p.Plaintext)
			assert.Equal(t, tc.expires, p.ExpiresAt.Unix())
		})
	}
}

func TestBadInputVectors(t *testing.T) {
	sample := mustKey(t, sampleKey)
	test := mustKey(t, testPub)
	for _, tc := range []struct {
		name string
		key  *Key
		in   string
		want error
	}{
		{"bit flipped", sample, qrcodetest.BitFlipped, ErrBadSignature},
		{"first 84 chars (63 bytes)", sample, q1[:84], ErrMalformed},
		{"64 bytes of 0xFF (c >= n)", sample, qrcodetest.AllOnes, ErrBadSignature},
		{"not base64", sample, "not base64 !!", ErrMalformed},
		{"empty", sample, "", ErrMalformed},
		{"whitespace only", sample, " \r\n", ErrMalformed},
		{"too long", sample, strings.Repeat("A", MaxInput+1), ErrMalformed},
		{"one extra group", sample, q1[:86] + "AAAA", ErrMalformed},
		{"data after padding", sample, q1 + "AA", ErrMalformed},
		{"triple padding", sample, q1[:86] + "===", ErrMalformed},
		{"single dangling char", sample, q1[:86] + "A", ErrMalformed},
		{"URL", sample, "https://example.com/qr?id=1", ErrMalformed},
		{"product barcode", sample, "6901234567892", ErrMalformed},
		{"T2 no colon", test, t2, ErrBadPayload},
		{"T4 non-digit expiry", test, t4, ErrBadPayload},
		{"T5 empty code", test, t5, ErrBadPayload},
		{"N1 type-2 encrypted", test, n1, ErrBadSignature},
		{"N2 Q1 under the test key", test, q1, ErrBadSignature},
		{"N2 T1 under the sample key", sample, t1, ErrBadSignature},
		{"zero block", sample, base64.StdEncoding.EncodeToString(make([]byte, 64)), ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.key.Open(tc.in)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, Payload{}, p)
		})
	}
}

func TestSyntheticVectors(t *testing.T) {
	k := mustKey(t, testPub)
	for _, tc := range []struct {
		name, in, code string
		expires        int64
	}{
		{"T1", t1, "TESTCODE0000001", 4102444800},
		{"T3 expiry in ms", t3, "TESTCODE0000001", 4102444800},
		{"T6 colon in code", t6, "A:B:C0000001", 4102444800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := k.Open(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.code, p.Code)
			assert.Equal(t, tc.expires, p.ExpiresAt.Unix())
			assert.Equal(t, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), p.ExpiresAt.UTC())
		})
	}
}

// Seal is deterministic, so it must reproduce the spec's vectors exactly.
func TestSealReproducesVectors(t *testing.T) {
	priv, err := ParsePrivateKey([]byte(testPrivPEM))
	require.NoError(t, err)
	got, err := Seal(priv, "TESTCODE0000001", time.Unix(4102444800, 0))
	require.NoError(t, err)
	assert.Equal(t, t1, got)
	got, err = Seal(priv, "A:B:C0000001", time.Unix(4102444800, 0))
	require.NoError(t, err)
	assert.Equal(t, t6, got)

	// Without the precomputed CRT values the plain exponentiation path runs.
	bare := &rsa.PrivateKey{PublicKey: priv.PublicKey, D: priv.D, Primes: priv.Primes}
	got, err = Seal(bare, "TESTCODE0000001", time.Unix(4102444800, 0))
	require.NoError(t, err)
	assert.Equal(t, t1, got)
}

func TestSealRejects(t *testing.T) {
	priv, err := ParsePrivateKey([]byte(testPrivPEM))
	require.NoError(t, err)
	exp := time.Unix(4102444800, 0)
	for name, code := range map[string]string{
		"empty":     "",
		"space":     "A B",
		"non-ascii": "门禁",
		"too long":  strings.Repeat("X", 43), // 43 + 1 + 10 = 54 > 53
	} {
		_, err := Seal(priv, code, exp)
		assert.ErrorIs(t, err, ErrBadPayload, name)
	}
	_, err = Seal(priv, strings.Repeat("X", 42), exp) // exactly k-11 = 53 bytes
	assert.NoError(t, err)
	_, err = Seal(priv, "X", time.Unix(-1, 0))
	assert.ErrorIs(t, err, ErrBadPayload)
	_, err = Seal(nil, "X", exp)
	assert.ErrorIs(t, err, ErrKey)

	broken := *priv
	broken.D = new(big.Int).Add(priv.D, big.NewInt(2))
	broken.Precomputed = rsa.PrecomputedValues{}
	_, err = Seal(&broken, "X", exp)
	assert.ErrorIs(t, err, ErrKey, "a private key that does not match must not mint codes")
}

func TestVerifyExpiry(t *testing.T) {
	k := mustKey(t, sampleKey)
	for _, tc := range []struct {
		now  int64
		skew time.Duration
		want error
	}{
		{1597881600, 0, nil},
		{1597939200, 0, nil},           // ts == now is still valid
		{1597939201, 0, ErrExpired},    // one second late
		{1597939201, time.Second, nil}, // skew tolerates it
		{1597939260, time.Minute, nil}, // boundary with skew
		{1597939261, time.Minute, ErrExpired},
	} {
		p, err := k.Verify(q2, time.Unix(tc.now, 0), tc.skew)
		if tc.want == nil {
			require.NoError(t, err, tc.now)
		} else {
			require.ErrorIs(t, err, tc.want, tc.now)
		}
		assert.Equal(t, "ALIF24DD9END8CD3", p.Code, "the payload comes back even when expired")
	}
	_, err := k.Verify("junk", time.Unix(0, 0), 0)
	require.ErrorIs(t, err, ErrMalformed)
}

func TestGenerateSealOpenRoundTrip(t *testing.T) {
	for _, bits := range []int{512, 768, 1024, 2048} {
		priv, err := GenerateKey(nil, bits)
		require.NoError(t, err, bits)
		require.Equal(t, bits, priv.N.BitLen())
		require.NoError(t, priv.Validate())
		k, err := NewKey(&priv.PublicKey)
		require.NoError(t, err)
		code, err := Seal(priv, "ROUNDTRIP-1", time.Unix(1900000000, 0))
		require.NoError(t, err)
		assert.Len(t, code, k.EncodedLen(), bits)
		p, err := k.Open(code)
		require.NoError(t, err, bits)
		assert.Equal(t, "ROUNDTRIP-1", p.Code)
		assert.Equal(t, int64(1900000000), p.ExpiresAt.Unix())

		// PEM round trip of both halves.
		pemPriv, err := EncodePrivateKeyPEM(priv)
		require.NoError(t, err)
		back, err := ParsePrivateKey(pemPriv)
		require.NoError(t, err)
		assert.Equal(t, 0, back.N.Cmp(priv.N))
		pemPub, err := EncodePublicKeyPEM(&priv.PublicKey)
		require.NoError(t, err)
		pub, err := ParsePublicKeyBytes(pemPub)
		require.NoError(t, err)
		assert.Equal(t, 0, pub.N.Cmp(priv.N))
	}
	_, err := GenerateKey(nil, 256)
	require.ErrorIs(t, err, ErrKey)
}

// The Montgomery fast path must agree with textbook math/big on every
// input, including blocks at and above the modulus and odd exponents.
func TestPublicOpMatchesMathBig(t *testing.T) {
	keys := []*rsa.PublicKey{mustKey(t, sampleKey).Public(), mustKey(t, testPub).Public()}
	for _, bits := range []int{520, 1024, 1536} {
		priv, err := GenerateKey(nil, bits)
		require.NoError(t, err)
		keys = append(keys, &priv.PublicKey)
	}
	priv, err := GenerateKey(nil, 512)
	require.NoError(t, err)
	keys = append(keys, &rsa.PublicKey{N: priv.N, E: 3}, &rsa.PublicKey{N: priv.N, E: 0x7FFFFFFF})
	for _, pub := range keys {
		k, err := NewKey(pub)
		require.NoError(t, err)
		require.NotNil(t, k.m)
		size := k.Size()
		edge := [][]byte{make([]byte, size), pub.N.FillBytes(make([]byte, size))}
		one := make([]byte, size)
		one[size-1] = 1
		nm1 := new(big.Int).Sub(pub.N, big.NewInt(1)).FillBytes(make([]byte, size))
		edge = append(edge, one, nm1)
		for i := range 300 {
			var in []byte
			if i < len(edge) {
				in = edge[i]
			} else {
				in = make([]byte, size)
				_, _ = rand.Read(in)
			}
			a := append([]byte(nil), in...)
			b := append([]byte(nil), in...)
			okA := k.publicOp(a)
			okB := publicOpBig(pub, b)
			require.Equal(t, okB, okA, "range check %x", in)
			if okA {
				require.Equal(t, b, a, "c^e mod n for %x (E=%d, %d bits)", in, pub.E, pub.N.BitLen())
			}
		}
	}
}

// Keys beyond the fast path still open codes through math/big. The
// 4160-bit key was made once by openssl genpkey (generating one per run
// takes seconds).
func TestHugeKeyFallback(t *testing.T) {
	pemBytes, err := os.ReadFile("testdata/test-only-rsa4160.pem")
	require.NoError(t, err)
	priv, err := ParsePrivateKey(pemBytes)
	require.NoError(t, err)
	require.Equal(t, 4160, priv.N.BitLen())
	k, err := NewKey(&priv.PublicKey)
	require.NoError(t, err)
	require.Nil(t, k.m, "beyond the Montgomery path")
	code, err := Seal(priv, "BIG", time.Unix(1900000000, 0))
	require.NoError(t, err)
	require.Len(t, code, k.EncodedLen())
	p, err := k.Open(code)
	require.NoError(t, err)
	assert.Equal(t, "BIG", p.Code)
	_, err = k.Open(code[:len(code)-4])
	require.ErrorIs(t, err, ErrMalformed)
}

func TestOpenPackageFunc(t *testing.T) {
	pub, err := ParsePublicKey(sampleKey)
	require.NoError(t, err)
	p, err := Open(pub, q1)
	require.NoError(t, err)
	assert.Equal(t, "ALIF24DD9END8CD3", p.Code)
	assert.Contains(t, p.String(), "2022-08-20T16:00:00Z")
	_, err = Open(&rsa.PublicKey{N: big.NewInt(15), E: 3}, q1)
	assert.True(t, errors.Is(err, ErrKey))
}

func TestOpenDoesNotAllocateOnErrors(t *testing.T) {
	k := mustKey(t, sampleKey)
	bad := qrcodetest.BitFlipped
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = k.Open(bad) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = k.Open("6901234567892") }))
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _, _ = k.Open(q1) }), 1.0, "one string for the payload")
}
