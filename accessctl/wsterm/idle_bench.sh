#!/bin/sh
# Memory per idle connected terminal, server side (heap in use + goroutine
# stacks), with 10,000 terminals that register (205) and then stay silent.
# The terminals run in a child process; each side needs ~10,000 file
# descriptors, so the open-file limit is raised as far as the hard limit allows.
#
#   accessctl/wsterm/idle_bench.sh [terminals]
set -eu
cd "$(dirname "$0")"
n="${1:-10000}"
want=$((n + 1024))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
	echo "open-file limit $(ulimit -n) is below $want; run as root or lower the count" >&2
	exit 1
fi
MENJIN_IDLE_TERMINALS="$n" exec go test -run '^$' -bench '^BenchmarkIdleTerminals$' -benchtime 1x -count 1 .
