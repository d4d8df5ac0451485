#!/usr/bin/env bash
# Load run: sipp plays many residents that each INVITE our door station
# (examples/sipdoor), send one unlock INFO, check the JSON 200 and hang up.
# Reports unlocks/s (counted from sipdoor's own JSON event lines) and failures.
#
#   intercom/bench/sipp_load.sh [CALLS=500] [RATE=50] [CONCURRENT=50] [TRANSPORT=u1]
#
# Needs sipp (Debian sip-tester). Loopback only, bounded by sipp -m and -timeout.
set -euo pipefail
calls=${1:-500}
rate=${2:-50}
limit=${3:-50}
transport=${4:-u1}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
door_pid=
cleanup() {
	if [ -n "$door_pid" ]; then kill "$door_pid" 2>/dev/null || true; wait "$door_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

command -v sipp >/dev/null || { echo "sipp not installed (apt-get install sip-tester)" >&2; exit 2; }
(cd "$repo" && go build -o "$work/sipdoor" ./examples/sipdoor)

# Bounded lifetime: the door exits on its own even if this script is killed.
"$work/sipdoor" -listen 127.0.0.1:0 -user door1 -max-calls $((limit * 2)) -for 10m >"$work/door.jsonl" 2>"$work/door.err" &
door_pid=$!
for _ in $(seq 1 100); do
	addr=$(sed -n 's/.*"kind":"listening","addr":"\([^"]*\)".*/\1/p' "$work/door.jsonl" | head -1)
	[ -n "$addr" ] && break
	sleep 0.05
done
[ -n "${addr:-}" ] || { echo "sipdoor did not start" >&2; cat "$work/door.err" >&2; exit 1; }

scenario="$repo/intercom/testdata/sipp/resident_unlock_aa.xml"
start=$(date +%s.%N)
set +e
timeout $((calls / rate + 60)) sipp "$addr" -sf "$scenario" -s door1 -aa -t "$transport" -i 127.0.0.1 -p 0 \
	-m "$calls" -r "$rate" -l "$limit" -timeout $((calls / rate + 50))s -timeout_error -recv_timeout 5000 \
	-nostdin -trace_stat -stf "$work/stat.csv" >"$work/sipp.out" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
sleep 0.3 # last event lines
ok=$(grep -Eo 'Successful call +\| +[0-9]+ +\| +[0-9]+' "$work/sipp.out" | awk '{print $NF}' | tail -1)
failed=$(grep -Eo 'Failed call +\| +[0-9]+ +\| +[0-9]+' "$work/sipp.out" | awk '{print $NF}' | tail -1)
unlocks=$(grep -c '"kind":"unlock"' "$work/door.jsonl" || true)
elapsed=$(echo "$end - $start" | bc -l)
printf '{"calls":%d,"rate":%d,"transport":"%s","sipp_successful":%d,"sipp_failed":%d,"unlocks":%d,"elapsed_s":%.2f,"unlocks_per_s":%.1f}\n' \
	"$calls" "$rate" "$transport" "${ok:-0}" "${failed:-0}" "$unlocks" "$elapsed" "$(echo "$unlocks / $elapsed" | bc -l)"
if [ "$rc" -ne 0 ] || [ "${failed:-0}" -ne 0 ] || [ "$unlocks" -ne "$calls" ]; then
	echo "load run failed (sipp rc=$rc)" >&2
	tail -30 "$work/sipp.out" >&2
	exit 1
fi
