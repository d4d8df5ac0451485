package shankai

import (
	"strconv"
	"testing"
)

func BenchmarkParseCardNo(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseCardNo("2147483647")
		_, _ = ParseCardNo("0x1A3D5B79")
	}
}

// BenchmarkParseCardNoBaseline is strconv alone, with none of the rules.
func BenchmarkParseCardNoBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = strconv.ParseUint("2147483647", 10, 64)
		_, _ = strconv.ParseUint("1A3D5B79", 16, 64)
	}
}
