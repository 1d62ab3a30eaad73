#!/usr/bin/env bash
# Engine micro-benchmark (tools/helpers/engine_bench.c): costs measured in
# pairs in one run (CPU time; the two sides alternate round by round, each
# the median of 7 rounds) and compared as ratios:
#   lookup   100k-prefix set lookup / 10-prefix set lookup     target < 3
#   table    decide with a 100k-prefix table / 10-prefix table  target < 3
#   state    established-flow packet / stateless decide         target < 1.5
#   newflow  new flow in a full 65536 table / stateless decide  target < 20
#   rules200 decide with 200 more rules (other interfaces,
#            ports, addresses) / the kill switch alone          target <= 2
#   state200 established-flow packet with those 200 rules /
#            without (state does not grow with the rule set)    target <= 1.2
#   memory   resident bytes per flow (50,000 flows) / 128       target <= 1
#   decode   packet_decode / stateless decide                   (reported)
set -u
: "${O:=build}" "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
BENCH=$TOP/$O/tools/engine_bench
ITERS=${ITERS:-1000000}
[ -x "$BENCH" ] || { echo "SKIP bench engine: $BENCH not built"; exit 0; }
out=$("$BENCH" "$ITERS") || { echo "FAIL bench engine: engine_bench failed"; exit 1; }
echo "$out"
check() { # name < or <= target
	local ratio
	ratio=$(awk -v n="$1" '$1 == n {print $4}' <<<"$out")
	if [ -z "$ratio" ]; then
		echo "FAIL bench engine $1: no measurement"
	elif awk -v r="$ratio" -v op="$2" -v t="$3" 'BEGIN {exit !(op == "<" ? r < t : r <= t)}'; then
		echo "PASS bench engine $1 ratio ${ratio}x $2 ${3}x"
	else
		echo "FAIL bench engine $1 ratio ${ratio}x, target $2 ${3}x"
	fi
}
check lookup '<' 3
check table '<' 3
check state '<' 1.5
check newflow '<' 20
check rules200 '<=' 2
check state200 '<=' 1.2
check memory '<=' 1
