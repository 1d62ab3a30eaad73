#!/usr/bin/env bash
# Table file load time: `ifwall check` of a rule file whose table file has
# 1,000,000 IPv4 addresses (make check's unit/test_rules checks that every
# entry is kept). CPU time (user + system), best of REPS runs.
# Target: under 5 s.
set -u
: "${O:=build}" "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
IFWALL=${IFWALL:-$TOP/$O/ifwall}
REPS=${REPS:-3}
TARGET=${TARGET:-5}
[ -x "$IFWALL" ] || { echo "SKIP bench table: $IFWALL not built"; exit 0; }
work=$(mktemp -d /tmp/ifw-bench-table.XXXXXX)
trap 'rm -rf "$work"' EXIT
awk 'BEGIN {
	for (i = 0; i < 1000000; i++)
		printf "%d.%d.%d.%d\n", 1 + (i * 7919) % 223, int(i / 65536) % 256, int(i / 256) % 256, i % 256
}' >"$work/big.txt"
printf 'table <big> file "big.txt"\nblock out to <big>\n' >"$work/big.rules"
chmod 644 "$work/big.txt" "$work/big.rules"
"$IFWALL" check "$work/big.rules" >/dev/null 2>"$work/err" ||
	{ echo "FAIL bench table: ifwall check failed: $(head -c 300 "$work/err")"; exit 1; }

best=
runs=()
for _ in $(seq "$REPS"); do
	t=$( { TIMEFORMAT='%3U %3S'; time "$IFWALL" check "$work/big.rules" >/dev/null 2>&1; } 2>&1 )
	s=$(awk '{printf "%.2f", $1 + $2}' <<<"$t")
	runs+=("$s")
	if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$s; fi
done
echo "1,000,000-entry table: check takes ${best} s CPU (best of $REPS: ${runs[*]}; target < ${TARGET} s)"
if awk -v s="$best" -v t="$TARGET" 'BEGIN {exit !(s < t)}'; then
	echo "PASS bench table load ${best} s < ${TARGET} s"
else
	echo "FAIL bench table load ${best} s >= ${TARGET} s"
fi
