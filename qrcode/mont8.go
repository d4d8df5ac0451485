package qrcode

import "math/bits"

//go:generate go run gen_mont8.go

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

func less8(x, y *nat8) bool {
	for i := 7; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// exp8 is mont.exp for 8-limb moduli. Squarings and reductions use the
// unrolled forms of mont8_gen.go.
func (m *mont) exp8(out, c []uint64) {
	var n, rr, cx nat8
	copy(n[:], m.n)
	copy(rr[:], m.rr)
	copy(cx[:], c)
	t := mul8(&cx, &rr)
	x := redc8u(&t, &n, m.n0inv) // c·R mod n
	acc := x
	for i := m.ebits - 2; i >= 0; i-- {
		t = sqr8u(&acc)
		acc = redc8u(&t, &n, m.n0inv)
		if m.e>>uint(i)&1 == 1 {
			t = mul8(&acc, &x)
			acc = redc8u(&t, &n, m.n0inv)
		}
	}
	t = [16]uint64{} // leave the Montgomery domain: reduce acc·1
	copy(t[:8], acc[:])
	z := redc8u(&t, &n, m.n0inv)
	copy(out, z[:])
}
