#!/bin/sh
# Compare qrcode.Key.Open (one core) with OpenSSL's RSA-512 public-key
# operation in the same run. Usage (from anywhere in the repo):
#   qrcode/bench/openssl_compare.sh [seconds]
# Goal: ratio >= 0.5. Both sides are single-threaded and timed by the wall
# clock (openssl speed -elapsed; by default it divides by CPU time, which
# flatters it on a busy machine). OpenSSL's figure is a bare verify; ours
# includes Base64 decoding, unpadding and payload parsing.
set -eu
secs=${1:-2}
cd "$(dirname "$0")/../.."

command -v openssl >/dev/null || { echo "openssl not installed" >&2; exit 1; }

ossl=$(openssl speed -elapsed -seconds "$secs" rsa512 2>/dev/null | awk '$1 == "rsa" && $2 == "512" { print $NF }')
[ -n "$ossl" ] || { echo "could not read openssl speed output" >&2; exit 1; }

gobench=$(go test -run '^$' -bench '^BenchmarkOpen(MathBig)?$' -benchmem -cpu 1 -benchtime "${secs}s" ./qrcode)
echo "$gobench" | grep '^Benchmark'
ours=$(echo "$gobench" | awk '$1 == "BenchmarkOpen" { printf "%.0f", 1e9 / $3 }')
base=$(echo "$gobench" | awk '$1 == "BenchmarkOpenMathBig" { printf "%.0f", 1e9 / $3 }')

echo "openssl speed rsa512 verify/s:      $ossl"
echo "qrcode Open/s (1 core):             $ours"
echo "qrcode Open/s, math/big baseline:   $base"
awk -v o="$ours" -v s="$ossl" -v b="$base" 'BEGIN {
	printf "ratio qrcode/openssl:              %.2f (goal >= 0.50)\n", o / s
	printf "speed-up over math/big:            %.2fx\n", o / b
}'
