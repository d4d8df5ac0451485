package qrcode

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"
)

// The loop forms below are the readable specification of the generated,
// unrolled sqr8u and redc8u; the test holds them equal.

// sqr8 returns the 16-limb square x².
func sqr8(x *nat8) (t [16]uint64) {
	// Off-diagonal products once …
	for i := range 7 {
		var c uint64
		xi := x[i]
		for j := i + 1; j < 8; j++ {
			c, t[i+j] = madd(x[j], xi, t[i+j], c)
		}
		t[i+8] = c
	}
	// … doubled …
	var top uint64
	for i := range 16 {
		w := t[i]
		t[i] = w<<1 | top
		top = w >> 63
	}
	// … plus the squares on the diagonal.
	var c uint64
	for i := range 8 {
		hi, lo := bits.Mul64(x[i], x[i])
		t[2*i], c = bits.Add64(t[2*i], lo, c)
		t[2*i+1], c = bits.Add64(t[2*i+1], hi, c)
	}
	return t
}

// redc8 returns t·R^-1 mod n for t < n·R (Montgomery reduction).
func redc8(t *[16]uint64, n *nat8, n0inv uint64) (z nat8) {
	var c2 uint64
	for i := range 8 {
		m := t[i] * n0inv
		var c uint64
		for j := range 8 {
			c, t[i+j] = madd(m, n[j], t[i+j], c)
		}
		t[i+8], c2 = bits.Add64(t[i+8], c, c2)
	}
	copy(z[:], t[8:])
	if c2 != 0 || !less8(&z, n) {
		var b uint64
		for j := range 8 {
			z[j], b = bits.Sub64(z[j], n[j], b)
		}
	}
	return z
}

func TestUnrolledMatchesLoops(t *testing.T) {
	k := mustKey(t, sampleKey)
	var n nat8
	copy(n[:], k.m.n)
	var buf [64]byte
	for range 2000 {
		_, _ = rand.Read(buf[:])
		var x nat8
		for i := range x {
			x[i] = binary.LittleEndian.Uint64(buf[8*i:])
		}
		x[7] &= n[7] >> 1 // keep x < n
		require.Equal(t, sqr8(&x), sqr8u(&x))
		sq := sqr8(&x)
		sq2 := sq
		require.Equal(t, redc8(&sq, &n, k.m.n0inv), redc8u(&sq2, &n, k.m.n0inv))
	}
	var all nat8
	for i := range all {
		all[i] = ^uint64(0)
	}
	require.Equal(t, sqr8(&all), sqr8u(&all))
}
