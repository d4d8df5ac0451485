package stdprototest

import (
	"bytes"
	"context"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
)

func TestPhotoAndFeatures(t *testing.T) {
	p := Photo("a")
	img, err := jpeg.Decode(bytes.NewReader(p))
	require.NoError(t, err)
	assert.Equal(t, 120, img.Bounds().Dx(), "the protocol's minimum size")
	fa, err := Features(context.Background(), accessctl.Image{Data: p})
	require.NoError(t, err)
	fa2, _ := Features(context.Background(), accessctl.Image{Data: Photo("a")})
	fb, _ := Features(context.Background(), accessctl.Image{Data: Photo("b")})
	assert.Equal(t, fa, fa2, "deterministic")
	assert.NotEqual(t, fa, fb)
	for _, v := range fa {
		assert.True(t, v >= -1 && v <= 1)
	}
	_, err = Features(context.Background(), accessctl.Image{Data: []byte("nope")})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	_, err = Features(context.Background(), accessctl.Image{URL: "http://x/y.jpg"})
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestMemoryFacesInOrderAndPaging(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	ops := []stdproto.FaceOp{
		{Type: stdproto.FaceAdd, FaceID: "a", UserInfo: &stdproto.UserInfo{UserName: "A"}, Feature: []float64{1}, FeatureMd5: "fa"},
		{Type: stdproto.FaceAdd, FaceID: "b"},
		{Type: stdproto.FaceAdd, FaceID: "c"},
		{Type: stdproto.FaceUpdate, FaceID: "a", UserInfo: &stdproto.UserInfo{UserName: "A2"}}, // feature kept
		{Type: stdproto.FaceDelete, FaceID: "b"},
		{Type: stdproto.FaceDelete, FaceID: "zz"}, // absent: fine
	}
	require.NoError(t, m.SyncFaces(ctx, ops))
	a, ok := m.Face("a")
	require.True(t, ok)
	assert.Equal(t, "A2", a.UserName)
	assert.Equal(t, []float64{1}, a.Feature)
	assert.Equal(t, 2, m.FaceCount())
	m.SetPageLimit(1)
	d, err := m.QueryFaces(ctx, 0, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 2, d.PageCount)
	assert.Len(t, d.FaceInfo, 1)
	d, err = m.QueryFaces(ctx, 2, 1)
	require.NoError(t, err)
	assert.Equal(t, "c", d.FaceInfo[0].FaceID)
	require.NoError(t, m.SyncFaces(ctx, []stdproto.FaceOp{{Type: stdproto.FaceDeleteAll}}))
	assert.Equal(t, 0, m.FaceCount())

	m.FailWith(stdproto.CodeBadParam)
	var ce *stdproto.CodeError
	require.ErrorAs(t, m.RemoteOpen(ctx), &ce)
	assert.Equal(t, stdproto.CodeBadParam, ce.Code)
	assert.Equal(t, 0, m.DoorOpens())
}
