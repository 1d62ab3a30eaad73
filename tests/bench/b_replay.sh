#!/usr/bin/env bash
# Replay throughput: ifwall replay vs a bare libpcap read loop
# (tools/helpers/pcap_loop.c) over the same generated capture (300,000
# packets by default, realistic flow mix, LINUX_SLL2), in the same run. Each
# is run REPS times (alternating), the medians are compared. Target: replay
# at most 1.5x the bare loop.
set -u
: "${O:=build}" "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
IFWALL=${IFWALL:-$TOP/$O/ifwall}
LOOP=$TOP/$O/tools/pcap_loop
PACKETS=${PACKETS:-300000}
REPS=${REPS:-7}
TARGET=${TARGET:-1.5}
for b in "$IFWALL" "$LOOP"; do
	[ -x "$b" ] || { echo "SKIP bench replay: $b not built"; exit 0; }
done
work=$(mktemp -d /tmp/ifw-bench-replay.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$TOP/tests/bench/gen_capture.py" "$work/bench.pcap" "$PACKETS" >"$work/gen.log" ||
	{ echo "FAIL bench replay: generating the capture"; exit 1; }
rules=$TOP/tests/replay/ks.rules
ifmap=2=eth0,5=wg0

# Warm the page cache and check both work.
"$LOOP" "$work/bench.pcap" >/dev/null || { echo "FAIL bench replay: pcap_loop failed"; exit 1; }
"$IFWALL" replay --ifmap $ifmap "$rules" "$work/bench.pcap" >"$work/replay.out" ||
	{ echo "FAIL bench replay: ifwall replay failed"; exit 1; }

elapsed_ms() { # command... -> milliseconds on stdout
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1
	local t1=$EPOCHREALTIME
	echo $(( (${t1/./} - ${t0/./}) / 1000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

loop_times=() replay_times=()
for _ in $(seq "$REPS"); do
	loop_times+=("$(elapsed_ms "$LOOP" "$work/bench.pcap")")
	replay_times+=("$(elapsed_ms "$IFWALL" replay --ifmap $ifmap "$rules" "$work/bench.pcap")")
done
loop_ms=$(median "${loop_times[@]}")
replay_ms=$(median "${replay_times[@]}")
[ "$loop_ms" -gt 0 ] || loop_ms=1
ratio=$(awk -v r="$replay_ms" -v l="$loop_ms" 'BEGIN {printf "%.2f", r / l}')
echo "replay: $(tail -1 "$work/replay.out")"
echo "replay ${replay_ms} ms, bare pcap loop ${loop_ms} ms (median of $REPS, $PACKETS packets): ratio ${ratio}x (target <= ${TARGET}x)"
echo "  replay runs: ${replay_times[*]}; loop runs: ${loop_times[*]}"
if awk -v r="$ratio" -v t="$TARGET" 'BEGIN {exit !(r <= t)}'; then
	echo "PASS bench replay ratio ${ratio}x <= ${TARGET}x"
else
	echo "FAIL bench replay ratio ${ratio}x > ${TARGET}x"
fi
