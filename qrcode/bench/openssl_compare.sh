#!/bin/sh
# Compare qrcode.Key.Open (one core) with OpenSSL's RSA-512 public-key
# operation in the same run. Usage (from anywhere in the repo):
#   qrcode/bench/openssl_compare.sh [seconds-per-run] [rounds]
# Goal: ratio >= 0.5.
#
# Two clocks, both single-threaded:
#   CPU time   openssl speed's default, and our opens/cpu-s metric (getrusage):
#              what each side costs, whatever the neighbours on a shared
#              machine do. The headline ratio.
#   wall clock openssl speed -elapsed, and 1/ns-per-op: what a user sees on
#              an idle machine; noisy on a busy one.
# The sides alternate for several rounds and each keeps its best round.
# OpenSSL's figure is a bare verify; ours includes Base64 decoding,
# unpadding and payload parsing.
set -eu
secs=${1:-2}
rounds=${2:-3}
cd "$(dirname "$0")/../.."

command -v openssl >/dev/null || { echo "openssl not installed" >&2; exit 1; }
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
go test -c -o "$bin" ./qrcode

speed() { openssl speed "$@" -seconds "$secs" rsa512 2>/dev/null | awk '$1 == "rsa" && $2 == "512" { printf "%.0f", $NF }'; }
maxof() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }

o_cpu=0 o_wall=0 q_cpu=0 q_wall=0 b_cpu=0
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	oc=$(speed)
	ow=$(speed -elapsed)
	out=$("$bin" -test.run '^$' -test.bench '^BenchmarkOpen(MathBig)?$' -test.benchmem -test.cpu 1 -test.benchtime "${secs}s")
	qc=$(echo "$out" | awk '$1 == "BenchmarkOpen" { for (f = 1; f < NF; f++) if ($(f+1) == "opens/cpu-s") printf "%.0f", $f }')
	qw=$(echo "$out" | awk '$1 == "BenchmarkOpen" { printf "%.0f", 1e9 / $3 }')
	bc=$(echo "$out" | awk '$1 == "BenchmarkOpenMathBig" { for (f = 1; f < NF; f++) if ($(f+1) == "opens/cpu-s") printf "%.0f", $f }')
	echo "round $i: openssl ${oc}/cpu-s ${ow}/s wall | qrcode ${qc}/cpu-s ${qw}/s wall | math/big ${bc}/cpu-s"
	o_cpu=$(maxof "$oc" "$o_cpu"); o_wall=$(maxof "$ow" "$o_wall")
	q_cpu=$(maxof "$qc" "$q_cpu"); q_wall=$(maxof "$qw" "$q_wall"); b_cpu=$(maxof "$bc" "$b_cpu")
done
echo "$out" | grep '^Benchmark'
echo
echo "best of $rounds rounds       openssl rsa512 verify   qrcode Open   ratio"
awk -v oc="$o_cpu" -v qc="$q_cpu" -v ow="$o_wall" -v qw="$q_wall" -v bc="$b_cpu" 'BEGIN {
	printf "per CPU-second           %12d   %11d   %.2f (goal >= 0.50)\n", oc, qc, qc / oc
	printf "per wall-second          %12d   %11d   %.2f\n", ow, qw, qw / ow
	printf "math/big baseline        %26d   qrcode is %.2fx faster\n", bc, qc / bc
}'
