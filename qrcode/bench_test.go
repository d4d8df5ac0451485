package qrcode

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/menjin/menjin/qrcode/qrcodetest"
)

// BenchmarkOpen is the door's hot path: one 88-character RSA-512 code.
// Besides ns/op it reports opens per CPU-second (see cpuTime), the figure
// to hold against openssl speed's default output on a busy machine.
func BenchmarkOpen(b *testing.B) {
	k := mustKey(b, sampleKey)
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := k.Open(q1); err != nil {
			b.Fatal(err)
		}
	}
	reportCPURate(b, start)
}

func reportCPURate(b *testing.B, start time.Duration) {
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(b.N)/used.Seconds(), "opens/cpu-s")
	}
}

// BenchmarkOpenMathBig is the same-run baseline: the textbook math/big
// public operation the spec sketches, with the same decoding around it.
func BenchmarkOpenMathBig(b *testing.B) {
	k := mustKey(b, sampleKey)
	slow := &Key{pub: k.pub, k: k.k} // no Montgomery constants: math/big path
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := slow.Open(q1); err != nil {
			b.Fatal(err)
		}
	}
	reportCPURate(b, start)
}

// BenchmarkOpenRejectBadSignature: a tampered code, the cost of junk frames.
func BenchmarkOpenRejectBadSignature(b *testing.B) {
	k := mustKey(b, sampleKey)
	bad := qrcodetest.BitFlipped
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(bad); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkOpen2048 shows the cost of the upgrade the spec recommends.
func BenchmarkOpen2048(b *testing.B) {
	priv, err := GenerateKey(nil, 2048)
	if err != nil {
		b.Fatal(err)
	}
	benchSealed(b, priv)
}

func benchSealed(b *testing.B, priv *rsa.PrivateKey) {
	k, err := NewKey(&priv.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	code, err := Seal(priv, "BENCH", sealExpiry)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Open(code); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal512(b *testing.B) {
	priv, err := ParsePrivateKey([]byte(testPrivPEM))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(priv, "BENCH", sealExpiry); err != nil {
			b.Fatal(err)
		}
	}
}
