package qrcode

import "math/bits"

// The platform's keys are RSA-512: 8 limbs. Fixed-size arrays let the
// compiler drop bounds checks, and a dedicated squaring saves 28 of the 64
// word products; 16 of the 19 Montgomery steps for e = 65537 are squarings.

type nat8 = [8]uint64

// madd returns a·b + c + d as (hi, lo); it cannot overflow.
func madd(a, b, c, d uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(a, b)
	var cc uint64
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	lo, cc = bits.Add64(lo, d, 0)
	hi += cc
	return hi, lo
}

// mul8 returns the 16-limb product x·y.
func mul8(x, y *nat8) (t [16]uint64) {
	for i := range 8 {
		var c uint64
		yi := y[i]
		for j := range 8 {
			c, t[i+j] = madd(x[j], yi, t[i+j], c)
		}
		t[i+8] = c
	}
	return t
}

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

func less8(x, y *nat8) bool {
	for i := 7; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// exp8 is mont.exp for 8-limb moduli.
func (m *mont) exp8(out, c []uint64) {
	var n, rr, cx nat8
	copy(n[:], m.n)
	copy(rr[:], m.rr)
	copy(cx[:], c)
	t := mul8(&cx, &rr)
	x := redc8(&t, &n, m.n0inv)
	acc := x
	for i := m.ebits - 2; i >= 0; i-- {
		t = sqr8(&acc)
		acc = redc8(&t, &n, m.n0inv)
		if m.e>>uint(i)&1 == 1 {
			t = mul8(&acc, &x)
			acc = redc8(&t, &n, m.n0inv)
		}
	}
	t = [16]uint64{}
	copy(t[:8], acc[:])
	z := redc8(&t, &n, m.n0inv)
	copy(out, z[:])
}
