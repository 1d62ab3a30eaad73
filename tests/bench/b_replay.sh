#!/usr/bin/env bash
# Replay throughput: ifwall replay vs a bare libpcap read loop
# (tools/helpers/pcap_loop.c) over the same generated capture (300,000
# packets by default, realistic flow mix, LINUX_SLL2), in the same run. Each
# is run REPS times (alternating), the medians of CPU time (user + system)
# are compared, wall time is shown too. Target: replay at most 1.5x the bare
# loop.
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

# run_ms command... -> "WALL CPU" in milliseconds (CPU = user + system, from
# the shell's rusage of the child: steadier than wall time on a shared box).
run_ms() {
	local TIMEFORMAT='%3R %3U %3S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}' <<<"$t"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

loop_wall=() loop_cpu=() replay_wall=() replay_cpu=()
for _ in $(seq "$REPS"); do
	read -r w c < <(run_ms "$LOOP" "$work/bench.pcap"); loop_wall+=("$w"); loop_cpu+=("$c")
	read -r w c < <(run_ms "$IFWALL" replay --ifmap $ifmap "$rules" "$work/bench.pcap")
	replay_wall+=("$w"); replay_cpu+=("$c")
done
lw=$(median "${loop_wall[@]}") lc=$(median "${loop_cpu[@]}")
rw=$(median "${replay_wall[@]}") rc=$(median "${replay_cpu[@]}")
ratio() { awk -v r="$1" -v l="$2" 'BEGIN {printf "%.2f", r / (l > 0 ? l : 1)}'; }
cpu_ratio=$(ratio "$rc" "$lc") wall_ratio=$(ratio "$rw" "$lw")
echo "replay: $(tail -1 "$work/replay.out")"
echo "$PACKETS packets, median of $REPS runs each:"
echo "  CPU time:  replay ${rc} ms, bare pcap loop ${lc} ms: ratio ${cpu_ratio}x (target <= ${TARGET}x)"
echo "  wall time: replay ${rw} ms, bare pcap loop ${lw} ms: ratio ${wall_ratio}x"
echo "  replay CPU runs: ${replay_cpu[*]}; loop CPU runs: ${loop_cpu[*]}"
if awk -v r="$cpu_ratio" -v t="$TARGET" 'BEGIN {exit !(r <= t)}'; then
	echo "PASS bench replay CPU ratio ${cpu_ratio}x <= ${TARGET}x"
else
	echo "FAIL bench replay CPU ratio ${cpu_ratio}x > ${TARGET}x"
fi
