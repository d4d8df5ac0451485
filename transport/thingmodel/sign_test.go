package thingmodel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var vecTriple = Triple{ProductKey: "a1PHv5Xn2xX", DeviceName: "door01", DeviceSecret: "2d8a4b5c6e7f8091a2b3c4d5e6f70819"}

// The expected passwords were computed with Python's hmac module over
// "clientId{id}deviceName{dn}productKey{pk}timestamp{ts}", the content
// string of the public LinkKit convention.
func TestSignMatchesReference(t *testing.T) {
	ts := time.UnixMilli(1597821579000)
	for _, c := range []struct {
		m    SignMethod
		want string
	}{
		{HMACSHA256, "24bacd2ff126a9ce11faae4be02680ffe822c37075c6c006c65831549c09eb88"},
		{HMACSHA1, "b6b860069513062c0835b6987ce4fbca0218ca0f"},
		{HMACMD5, "5d296669d0f245fb45ce919a0ae4d95a"},
	} {
		cred, err := Sign(vecTriple, "", ts, c.m)
		require.NoError(t, err)
		assert.Equal(t, "a1PHv5Xn2xX.door01|securemode=3,signmethod="+string(c.m)+",timestamp=1597821579000|", cred.ClientID)
		assert.Equal(t, "door01&a1PHv5Xn2xX", cred.Username)
		assert.Equal(t, c.want, cred.Password, c.m)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	v := &Verifier{Secrets: Secrets{vecTriple.Key(): vecTriple.DeviceSecret}}
	now := time.Now()
	cred, err := Sign(vecTriple, "SN0001", now, HMACSHA256)
	require.NoError(t, err)

	dev, p, err := v.Verify(ctx, cred.ClientID, cred.Username, []byte(cred.Password))
	require.NoError(t, err)
	assert.Equal(t, vecTriple.Key(), dev)
	assert.Equal(t, "SN0001", p.ID)

	upper := []byte(cred.Password)
	for i, c := range upper {
		if c >= 'a' && c <= 'f' {
			upper[i] = c - 32
		}
	}
	_, _, err = v.Verify(ctx, cred.ClientID, cred.Username, upper)
	assert.NoError(t, err, "hex case does not matter (some SDKs send upper case)")

	bad := []struct{ name, clientID, username, password string }{
		{"bad signature", cred.ClientID, cred.Username, flipLast(cred.Password)},
		{"wrong product key", cred.ClientID, "door01&a1WRONGxxxx", cred.Password},
		{"other device name", cred.ClientID, "door02&a1PHv5Xn2xX", cred.Password},
		{"tampered client id", "SN0002" + cred.ClientID[6:], cred.Username, cred.Password},
		{"tampered timestamp", "SN0001|securemode=3,signmethod=hmacsha256,timestamp=1|", cred.Username, cred.Password},
		{"no params", "SN0001", cred.Username, cred.Password},
		{"unknown method", "SN0001|signmethod=rot13|", cred.Username, cred.Password},
		{"bad username", cred.ClientID, "door01", cred.Password},
		{"not hex", cred.ClientID, cred.Username, "zz"},
		{"empty", "", "", ""},
	}
	for _, b := range bad {
		_, _, err := v.Verify(ctx, b.clientID, b.username, []byte(b.password))
		assert.ErrorIs(t, err, ErrAuth, b.name)
	}

	strict := &Verifier{Secrets: v.Secrets, MaxSkew: time.Minute}
	old, err := Sign(vecTriple, "", now.Add(-time.Hour), HMACSHA256)
	require.NoError(t, err)
	_, _, err = strict.Verify(ctx, old.ClientID, old.Username, []byte(old.Password))
	assert.ErrorIs(t, err, ErrAuth, "an hour-old signature is refused with MaxSkew")
	_, _, err = v.Verify(ctx, old.ClientID, old.Username, []byte(old.Password))
	assert.NoError(t, err, "and accepted without")
}

func TestSignRejectsBadInput(t *testing.T) {
	_, err := Sign(Triple{ProductKey: "pk", DeviceName: "dn"}, "", time.Now(), "")
	assert.ErrorIs(t, err, ErrAuth)
	_, err = Sign(vecTriple, "a|b", time.Now(), "")
	assert.ErrorIs(t, err, ErrAuth)
	_, err = Sign(vecTriple, "", time.Now(), "sha3")
	assert.ErrorIs(t, err, ErrAuth)
	assert.NotContains(t, vecTriple.String(), vecTriple.DeviceSecret)
}

func flipLast(s string) string {
	last := "0"
	if s[len(s)-1] == '0' {
		last = "1"
	}
	return s[:len(s)-1] + last
}
