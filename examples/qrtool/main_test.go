package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	sampleKey = qrcodetest.SampleKey
	q1        = qrcodetest.Q1
	q2        = qrcodetest.Q2
)

func call(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVerifyOfficialVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		exit int
		out  string
	}{
		{"Q1 valid", []string{"verify", "-key", sampleKey, "-now", "1597881600", q1}, 0, `{"valid":true,"code":"ALIF24DD9END8CD3","expiresAt":1661011200}`},
		{"Q2 at its expiry second", []string{"verify", "-key", sampleKey, "-now", "1597939200", q2}, 0, `{"valid":true,"code":"ALIF24DD9END8CD3","expiresAt":1597939200}`},
		{"Q2 expired", []string{"verify", "-key", sampleKey, "-now", "1597939201", q2}, 1, `{"valid":false,"reason":"expired"}`},
		{"Q2 expired by the real clock", []string{"verify", "-key", sampleKey, q2}, 1, `{"valid":false,"reason":"expired"}`},
		{"bit flipped", []string{"verify", "-key", sampleKey, "-now", "1597881600", qrcodetest.BitFlipped}, 1, `{"valid":false,"reason":"bad_signature"}`},
		{"truncated", []string{"verify", "-key", sampleKey, q1[:84]}, 1, `{"valid":false,"reason":"malformed"}`},
		{"not base64", []string{"verify", "-key", sampleKey, "not base64 !!"}, 1, `{"valid":false,"reason":"malformed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exit, out, errOut := call(tc.args...)
			assert.Equal(t, tc.exit, exit, errOut)
			assert.Equal(t, tc.out+"\n", out)
		})
	}
}

func TestKeygenIssueVerify(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "door")
	exit, out, errOut := call("keygen", "-bits", "512", "-out", prefix)
	require.Equal(t, 0, exit, errOut)
	prop := strings.TrimSpace(out)
	der, err := base64.StdEncoding.DecodeString(prop)
	require.NoError(t, err)
	assert.Len(t, der, 94, "RSA-512 SPKI DER is 94 bytes like the platform's sample")
	st, err := os.Stat(prefix + ".key")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the private key is not world-readable")
	pubPEM, err := os.ReadFile(prefix + ".pub")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----"))

	exit, out, errOut = call("issue", "-key", prefix+".key", "-code", "VISITOR-7", "-expires", "1900000000")
	require.Equal(t, 0, exit, errOut)
	code := strings.TrimSpace(out)
	require.Len(t, code, 88)

	for _, key := range []string{prop, prefix + ".pub"} {
		exit, out, _ = call("verify", "-key", key, "-now", "1800000000", code)
		assert.Equal(t, 0, exit)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		assert.Equal(t, map[string]any{"valid": true, "code": "VISITOR-7", "expiresAt": float64(1900000000)}, v)
	}
	// A code from another key is a bad signature, not "malformed".
	exit, out, _ = call("verify", "-key", sampleKey, code)
	assert.Equal(t, 1, exit)
	assert.Equal(t, `{"valid":false,"reason":"bad_signature"}`+"\n", out)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no args":              nil,
		"unknown command":      {"frobnicate"},
		"keygen without -out":  {"keygen"},
		"keygen too small":     {"keygen", "-bits", "256", "-out", filepath.Join(dir, "x")},
		"issue missing key":    {"issue", "-code", "A", "-expires", "1"},
		"issue unreadable key": {"issue", "-key", filepath.Join(dir, "missing.pem"), "-code", "A", "-expires", "1"},
		"verify no code":       {"verify", "-key", sampleKey},
		"verify bad key":       {"verify", "-key", "nonsense", q1},
		"verify bad flag":      {"verify", "-bogus", q1},
	} {
		exit, out, errOut := call(args...)
		assert.Equal(t, 2, exit, name)
		assert.Empty(t, out, name)
		assert.Contains(t, errOut, "usage:", name)
	}
	exit, out, _ := call("help")
	assert.Equal(t, 0, exit)
	assert.Contains(t, out, "qrtool verify")
}

// The built binary behaves like run: exit codes reach the shell, and keys
// it writes are read by OpenSSL (a tool we did not write).
func TestBinaryWithOpenSSL(t *testing.T) {
	ossl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	bin := filepath.Join(dir, "qrtool")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	prefix := filepath.Join(dir, "k")
	require.NoError(t, exec.Command(bin, "keygen", "-out", prefix).Run())
	code, err := exec.Command(bin, "issue", "-key", prefix+".key", "-code", "OSSL-1", "-expires", "1900000000").Output()
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(code)))
	require.NoError(t, err)
	rec := exec.Command(ossl, "pkeyutl", "-verifyrecover", "-pubin", "-inkey", prefix+".pub")
	rec.Stdin = bytes.NewReader(sig)
	plain, err := rec.Output()
	require.NoError(t, err)
	assert.Equal(t, "OSSL-1:1900000000", string(plain))

	// openssl mints with the private key qrtool wrote; qrtool verifies.
	sign := exec.Command(ossl, "pkeyutl", "-sign", "-inkey", prefix+".key")
	sign.Stdin = strings.NewReader("OSSL-2:1900000000")
	sig, err = sign.Output()
	require.NoError(t, err)
	v := exec.Command(bin, "verify", "-key", prefix+".pub", "-now", "1800000000", base64.StdEncoding.EncodeToString(sig))
	out, err = v.Output()
	require.NoError(t, err)
	assert.Equal(t, `{"valid":true,"code":"OSSL-2","expiresAt":1900000000}`+"\n", string(out))

	v = exec.Command(bin, "verify", "-key", prefix+".pub", "-now", "1900000001", base64.StdEncoding.EncodeToString(sig))
	out, err = v.Output()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 1, exitErr.ExitCode())
	assert.Equal(t, `{"valid":false,"reason":"expired"}`+"\n", string(out))
}
