package accessctl_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

func TestRejectedErrorMatchesThroughWrapping(t *testing.T) {
	err := fmt.Errorf("put grant 42: %w", accessctl.Rejected("addUser", "500", "no face in image"))
	require.ErrorIs(t, err, accessctl.ErrRejected)
	assert.NotErrorIs(t, err, accessctl.ErrOffline)
	var rej *accessctl.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, "500", rej.Code)
	assert.Equal(t, "accessctl: rejected by device: addUser (code 500): no face in image", rej.Error())
}

func TestSyncStateOf(t *testing.T) {
	cases := []struct {
		op   accessctl.SyncOp
		err  error
		want accessctl.SyncState
	}{
		{accessctl.OpUpsert, nil, accessctl.SyncApplied},
		{accessctl.OpDelete, nil, accessctl.SyncRemoved},
		{accessctl.OpUpsert, fmt.Errorf("x: %w", accessctl.ErrOffline), accessctl.SyncRetryableFailure},
		{accessctl.OpUpsert, accessctl.ErrTimeout, accessctl.SyncRetryableFailure},
		{accessctl.OpUpsert, accessctl.Rejected("addUser", "500", ""), accessctl.SyncInvalidInput},
		{accessctl.OpUpsert, context.DeadlineExceeded, accessctl.SyncRetryableFailure},
		{accessctl.OpUpsert, errors.New("what"), accessctl.SyncUnknown},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, accessctl.SyncStateOf(c.op, c.err), "%v %v", c.op, c.err)
	}
}

type nopDevice struct{ id string }

func (d nopDevice) ID() string { return d.id }
func (d nopDevice) Status(context.Context) (accessctl.Status, error) {
	return accessctl.Status{Device: accessctl.DeviceRef{ID: d.id}}, nil
}
func (d nopDevice) OpenDoor(context.Context, accessctl.OpenRequest) error {
	return accessctl.ErrUnsupported
}
func (d nopDevice) Close() error { return nil }

func TestRegistry(t *testing.T) {
	var r accessctl.Registry
	r.Register("nop", accessctl.DriverFunc(func(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
		return nopDevice{cfg.ID}, nil
	}))
	dev, err := r.Open(context.Background(), "nop", accessctl.DeviceConfig{ID: "sn-1"})
	require.NoError(t, err)
	assert.Equal(t, "sn-1", dev.ID())
	_, err = r.Open(context.Background(), "nope", accessctl.DeviceConfig{})
	require.ErrorIs(t, err, accessctl.ErrUnknownDriver)
	assert.Equal(t, []string{"nop"}, r.Drivers())
	assert.Panics(t, func() { r.Register("nop", accessctl.DriverFunc(nil)) })
	r.Unregister("nop")
	assert.Empty(t, r.Drivers())
}

func TestDecodeImageVariants(t *testing.T) {
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5}
	std := base64.StdEncoding.EncodeToString(jpeg)
	for name, in := range map[string]string{
		"plain":      std,
		"data URL":   "data:image/jpeg;base64," + std,
		"unpadded":   base64.RawStdEncoding.EncodeToString(jpeg),
		"url-safe":   base64.URLEncoding.EncodeToString(jpeg),
		"line-wraps": std[:4] + "\r\n" + std[4:],
	} {
		im, err := accessctl.DecodeImage(in)
		require.NoError(t, err, name)
		assert.Equal(t, jpeg, im.Data, name)
		assert.Equal(t, "image/jpeg", im.MIME, name)
	}
	_, err := accessctl.DecodeImage("not base64 !!")
	require.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = accessctl.DecodeImage("data:image/png;base64")
	require.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestSecretsStayOutOfStrings(t *testing.T) {
	g := accessctl.Grant{
		Person:   accessctl.PersonRef{ID: "42"},
		Name:     "李四",
		IDNumber: "110101199003071234",
		Credentials: []accessctl.Credential{
			{Kind: accessctl.CredPassword, Value: "1234"},
			{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: []byte("secret-bytes"), MIME: "image/jpeg"}},
		},
	}
	s := g.String()
	assert.NotContains(t, s, "1234")
	assert.NotContains(t, s, "secret-bytes")
	assert.NotContains(t, s, "110101199003071234")
	assert.Contains(t, s, "password(***)")

	p := accessctl.PassEvent{Method: accessctl.MethodPassword, Credential: "9876", Kind: accessctl.PassDenied}
	assert.NotContains(t, p.String(), "9876")
}

func TestGrantValidity(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	g := accessctl.Grant{ValidFrom: &from, ValidTo: &to}
	assert.False(t, g.ValidAt(from.Add(-time.Second)))
	assert.True(t, g.ValidAt(from))
	assert.True(t, g.ValidAt(to))
	assert.False(t, g.ValidAt(to.Add(time.Second)))
	assert.True(t, (&accessctl.Grant{}).ValidAt(time.Now()), "open ends admit any time")
}
