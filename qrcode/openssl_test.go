package qrcode

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/menjin/menjin/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests prove the scheme against OpenSSL, a peer we did not write:
// codes it mints with PKCS#1 v1.5 type-1 padding on the raw plaintext open
// here, and codes Seal mints recover with OpenSSL's public-key operation.

func runOpenSSL(t *testing.T, bin string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "openssl %s: %s", strings.Join(args, " "), stderr.String())
	return out
}

type opensslKeys struct {
	dir, priv, pub string
	key            *Key
}

// newOpenSSLKey makes a key with OpenSSL itself (genpkey), so neither half
// of the pair comes from our code.
func newOpenSSLKey(t *testing.T, bin string, bits int) opensslKeys {
	dir := t.TempDir()
	priv := filepath.Join(dir, "key.pem")
	pub := filepath.Join(dir, "pub.pem")
	runOpenSSL(t, bin, nil, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:"+strconv.Itoa(bits), "-out", priv)
	runOpenSSL(t, bin, nil, "pkey", "-in", priv, "-pubout", "-out", pub)
	pemText, err := os.ReadFile(pub)
	require.NoError(t, err)
	k, err := ParseKey(string(pemText))
	require.NoError(t, err)
	require.Equal(t, bits, k.Public().N.BitLen())
	return opensslKeys{dir: dir, priv: priv, pub: pub, key: k}
}

func TestOpenSSLMintedCodesOpen(t *testing.T) {
	bin := testutil.RequireTool(t, "openssl")
	for _, bits := range []int{512, 1024, 2048} {
		ks := newOpenSSLKey(t, bin, bits)
		for _, mint := range []struct {
			name string
			args []string
		}{
			{"pkeyutl -sign", []string{"pkeyutl", "-sign", "-inkey", ks.priv, "-pkeyopt", "rsa_padding_mode:pkcs1"}},
			{"rsautl -sign", []string{"rsautl", "-sign", "-inkey", ks.priv, "-pkcs"}},
		} {
			for _, plain := range []string{"ALIF24DD9END8CD3:1661011200", "A:B:C0000001:4102444800", "TESTCODE0000001:4102444800000"} {
				sig := runOpenSSL(t, bin, []byte(plain), mint.args...)
				require.Len(t, sig, ks.key.Size())
				text := base64.StdEncoding.EncodeToString(sig)
				p, err := ks.key.Open(text)
				require.NoError(t, err, "%d bits, %s, %q", bits, mint.name, plain)
				assert.Equal(t, plain, p.Plaintext)
				assert.Equal(t, plain[:strings.LastIndexByte(plain, ':')], p.Code)
				if strings.HasPrefix(plain, "ALI") {
					assert.Equal(t, int64(1661011200), p.ExpiresAt.Unix())
				} else {
					assert.Equal(t, int64(4102444800), p.ExpiresAt.Unix())
				}
			}
		}
		// Type-2 (public-key encryption) output must never open.
		enc := runOpenSSL(t, bin, []byte("ALIF24DD9END8CD3:1661011200"), "pkeyutl", "-encrypt", "-pubin", "-inkey", ks.pub, "-pkeyopt", "rsa_padding_mode:pkcs1")
		_, err := ks.key.Open(base64.StdEncoding.EncodeToString(enc))
		require.ErrorIs(t, err, ErrBadSignature, "%d bits type-2", bits)
		oaep := runOpenSSL(t, bin, []byte("SHORT:1661011200"), "pkeyutl", "-encrypt", "-pubin", "-inkey", ks.pub, "-pkeyopt", "rsa_padding_mode:oaep")
		_, err = ks.key.Open(base64.StdEncoding.EncodeToString(oaep))
		require.ErrorIs(t, err, ErrBadSignature, "%d bits OAEP", bits)
	}
}

func TestSealedCodesRecoverWithOpenSSL(t *testing.T) {
	bin := testutil.RequireTool(t, "openssl")
	for _, bits := range []int{512, 1024} {
		priv, err := GenerateKey(nil, bits)
		require.NoError(t, err)
		dir := t.TempDir()
		pubPEM, err := EncodePublicKeyPEM(&priv.PublicKey)
		require.NoError(t, err)
		pub := filepath.Join(dir, "pub.pem")
		require.NoError(t, os.WriteFile(pub, pubPEM, 0o600))
		privPEM, err := EncodePrivateKeyPEM(priv)
		require.NoError(t, err)
		privFile := filepath.Join(dir, "key.pem")
		require.NoError(t, os.WriteFile(privFile, privPEM, 0o600))

		code, err := Seal(priv, "ALIF24DD9END8CD3", time.Unix(1661011200, 0))
		require.NoError(t, err)
		sig, err := base64.StdEncoding.DecodeString(code)
		require.NoError(t, err)
		got := runOpenSSL(t, bin, sig, "rsautl", "-verify", "-pubin", "-inkey", pub, "-pkcs")
		assert.Equal(t, "ALIF24DD9END8CD3:1661011200", string(got), "rsautl -verify, %d bits", bits)
		got = runOpenSSL(t, bin, sig, "pkeyutl", "-verifyrecover", "-pubin", "-inkey", pub, "-pkeyopt", "rsa_padding_mode:pkcs1")
		assert.Equal(t, "ALIF24DD9END8CD3:1661011200", string(got), "pkeyutl -verifyrecover, %d bits", bits)

		// OpenSSL reads the key files we write and mints the same bytes:
		// the scheme is deterministic.
		again := runOpenSSL(t, bin, []byte("ALIF24DD9END8CD3:1661011200"), "pkeyutl", "-sign", "-inkey", privFile, "-pkeyopt", "rsa_padding_mode:pkcs1")
		assert.Equal(t, code, base64.StdEncoding.EncodeToString(again))
	}
}

// The official sample key and vectors, recovered by OpenSSL from the DER
// form of the RSAPublicKey property, agree with Open.
func TestOfficialVectorsAgreeWithOpenSSL(t *testing.T) {
	bin := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	der, err := base64.StdEncoding.DecodeString(sampleKey)
	require.NoError(t, err)
	keyDER := filepath.Join(dir, "key.der")
	require.NoError(t, os.WriteFile(keyDER, der, 0o600))
	k := mustKey(t, sampleKey)
	for _, q := range []string{q1, q2} {
		sig, err := base64.StdEncoding.DecodeString(q)
		require.NoError(t, err)
		want := runOpenSSL(t, bin, sig, "pkeyutl", "-verifyrecover", "-pubin", "-keyform", "DER", "-inkey", keyDER)
		p, err := k.Open(q)
		require.NoError(t, err)
		assert.Equal(t, string(want), p.Plaintext)
	}
}
