package qrcode

import (
	"math/big"
	"math/bits"
)

// maxLimbs bounds the keys handled by the allocation-free Montgomery path
// (64 × 64 = 4096 bits). Larger keys fall back to math/big.
const maxLimbs = 64

// mont holds what a public-key operation needs, precomputed once per key.
// Only public data is involved, so nothing here needs to be constant time.
type mont struct {
	n     []uint64 // modulus, little-endian limbs
	rr    []uint64 // R^2 mod n, R = 2^(64·len(n))
	n0inv uint64   // -n^-1 mod 2^64
	e     uint64   // public exponent
	ebits int      // bit length of e
}

func newMont(n *big.Int, e int) *mont {
	limbs := (n.BitLen() + 63) / 64
	m := &mont{
		n:     toLimbs(n, limbs),
		e:     uint64(e),
		ebits: bits.Len64(uint64(e)),
	}
	r := new(big.Int).Lsh(big.NewInt(1), uint(2*64*limbs))
	m.rr = toLimbs(r.Mod(r, n), limbs)
	// Newton iteration for n[0]^-1 mod 2^64 (n is odd): each step doubles
	// the number of correct low bits, starting from 1 (x = n0 is right mod 8,
	// i.e. 3 bits), so 5 more steps give 96 ≥ 64.
	n0 := m.n[0]
	inv := n0
	for range 5 {
		inv *= 2 - n0*inv
	}
	m.n0inv = -inv
	return m
}

func toLimbs(x *big.Int, limbs int) []uint64 {
	out := make([]uint64, limbs)
	for i, w := range x.Bits() { // big.Word is 64 bits on every platform we build for
		if i < limbs {
			out[i] = uint64(w)
		}
	}
	return out
}

// mul sets z = x·y·R^-1 mod n (CIOS Montgomery multiplication). t is
// scratch of len(n)+2 words; z may alias x or y.
func (m *mont) mul(z, x, y, t []uint64) {
	n := m.n
	s := len(n)
	t = t[:s+2]
	x = x[:s]
	y = y[:s]
	z = z[:s]
	clear(t)
	for i := range s {
		yi := y[i]
		var c uint64
		for j := range s {
			hi, lo := bits.Mul64(x[j], yi)
			var cc uint64
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j] = lo
			c = hi
		}
		var cc uint64
		t[s], cc = bits.Add64(t[s], c, 0)
		t[s+1] = cc

		q := t[0] * m.n0inv
		hi, lo := bits.Mul64(q, n[0])
		_, cc = bits.Add64(lo, t[0], 0)
		c = hi + cc
		for j := 1; j < s; j++ {
			hi, lo := bits.Mul64(q, n[j])
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j-1] = lo
			c = hi
		}
		t[s-1], cc = bits.Add64(t[s], c, 0)
		t[s] = t[s+1] + cc
	}
	// t < 2n: one conditional subtraction.
	if t[s] != 0 || !less(t[:s], n) {
		var b uint64
		for j := range s {
			z[j], b = bits.Sub64(t[j], n[j], b)
		}
		return
	}
	copy(z, t[:s])
}

// less reports x < y for equal-length little-endian limbs.
func less(x, y []uint64) bool {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// exp sets out = c^e mod n, c < n, using left-to-right square-and-multiply in
// the Montgomery domain. out and c have len(n) words.
func (m *mont) exp(out, c []uint64) {
	var xb, accb, tb [maxLimbs + 2]uint64
	s := len(m.n)
	x, acc, t := xb[:s], accb[:s], tb[:s+2]
	m.mul(x, c, m.rr, t) // x = c·R mod n
	copy(acc, x)
	for i := m.ebits - 2; i >= 0; i-- {
		m.mul(acc, acc, acc, t)
		if m.e>>uint(i)&1 == 1 {
			m.mul(acc, acc, x, t)
		}
	}
	// Leave the Montgomery domain: multiply by 1.
	clear(x)
	x[0] = 1
	m.mul(out, acc, x, t)
}
