#!/usr/bin/env bash
# Replay throughput, two comparisons, each measured in this run with the
# runs alternating (REPS rounds, 7 by default; the ratio is the median of
# the rounds' ratios of CPU time, user + system, which is steadier than
# wall time on a shared machine; wall time is shown too):
#
#   replay    ifwall replay vs a bare libpcap read loop (tools/helpers/
#             pcap_loop.c) over the same generated LINUX_SLL2 capture:
#             PACKETS (2,000,000) packets, ACTIVE (1000) flows open at a
#             time, short enough that the flow table holds >= 50,000 live
#             flows.                                    target <= 1.2x
#   rules200  ifwall replay of a capture of many short flows (SHORT_PACKETS,
#             1,000,000) with 200 more rules before the kill switch, rules
#             the traffic never matches (other interfaces, ports,
#             addresses), vs the kill switch alone.     target <= 1.1x
#
# Captures go to a scratch directory in TMPDIR (about 1.4 GB for the
# first); set PACKETS / SHORT_PACKETS lower for a quick look (the flow count
# check then fails).
set -u
: "${O:=build}" "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
IFWALL=${IFWALL:-$TOP/$O/ifwall}
LOOP=$TOP/$O/tools/pcap_loop
PACKETS=${PACKETS:-2000000}
ACTIVE=${ACTIVE:-1000}
SHORT_PACKETS=${SHORT_PACKETS:-1000000}
REPS=${REPS:-7}
MIN_FLOWS=${MIN_FLOWS:-50000}
TARGET_REPLAY=1.2
TARGET_RULES=1.1
for b in "$IFWALL" "$LOOP"; do
	[ -x "$b" ] || { echo "SKIP bench replay: $b not built"; exit 0; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ifw-bench-replay.XXXXXX")
trap 'rm -rf "$work"' EXIT
rules=$TOP/tests/golden/replay/ks.rules
ifmap=2=eth0,5=wg0

# run_ms command... -> "WALL CPU" in milliseconds (CPU = user + system, from
# the shell's rusage of the child).
run_ms() {
	local TIMEFORMAT='%3R %3U %3S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}' <<<"$t"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v r="$1" -v l="$2" 'BEGIN {printf "%.2f", r / (l > 0 ? l : 1)}'; }
# check NAME RATIO TARGET
check() {
	if awk -v r="$2" -v t="$3" 'BEGIN {exit !(r <= t)}'; then
		echo "PASS bench replay $1 ratio ${2}x <= ${3}x"
	else
		echo "FAIL bench replay $1 ratio ${2}x > ${3}x"
	fi
}

# pair NAME REPS -- CMD_A... -- CMD_B...: alternating runs (B first every
# other round); sets a_wall a_cpu b_wall b_cpu (medians), a_runs b_runs,
# and cpu_ratio wall_ratio: the medians of the rounds' ratios (a round's
# two runs are back to back, so they saw the same load).
pair() {
	local reps=$2 i w c
	shift 3
	local a=() b=()
	while [ "$1" != "--" ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	local aw=() ac=() bw=() bc=() rc=() rw=()
	for ((i = 0; i < reps; i++)); do
		if ((i % 2)); then
			read -r w c < <(run_ms "${b[@]}"); bw+=("$w"); bc+=("$c")
			read -r w c < <(run_ms "${a[@]}"); aw+=("$w"); ac+=("$c")
		else
			read -r w c < <(run_ms "${a[@]}"); aw+=("$w"); ac+=("$c")
			read -r w c < <(run_ms "${b[@]}"); bw+=("$w"); bc+=("$c")
		fi
		rc+=("$(ratio "${ac[i]}" "${bc[i]}")") rw+=("$(ratio "${aw[i]}" "${bw[i]}")")
	done
	a_wall=$(median "${aw[@]}") a_cpu=$(median "${ac[@]}")
	b_wall=$(median "${bw[@]}") b_cpu=$(median "${bc[@]}")
	a_runs="${ac[*]}" b_runs="${bc[*]}"
	cpu_ratio=$(median "${rc[@]}") wall_ratio=$(median "${rw[@]}")
}

# --- replay vs the bare read loop -------------------------------------------
python3 "$TOP/tests/bench/gen_capture.py" "$work/flows.pcap" "$PACKETS" "$ACTIVE" 0.25 >"$work/gen.log" ||
	{ echo "FAIL bench replay: generating the capture"; exit 1; }
"$LOOP" "$work/flows.pcap" >/dev/null || { echo "FAIL bench replay: pcap_loop failed"; exit 1; }
"$IFWALL" replay --ifmap $ifmap "$rules" "$work/flows.pcap" >"$work/replay.out" ||
	{ echo "FAIL bench replay: ifwall replay failed"; exit 1; }
summary=$(tail -1 "$work/replay.out")
packets=$(grep -o '[0-9]* packets' <<<"$summary" | head -1 | cut -d' ' -f1)
flows=$(grep -o '[0-9]* flows' <<<"$summary" | head -1 | cut -d' ' -f1)
evicted=$(grep -o '[0-9]* evicted' <<<"$summary" | cut -d' ' -f1)
live=$((flows - ${evicted:-0}))
pair replay "$REPS" -- "$IFWALL" replay --ifmap $ifmap "$rules" "$work/flows.pcap" -- "$LOOP" "$work/flows.pcap"
r=$cpu_ratio
echo "replay: $summary"
echo "$packets packets, $flows flows ($live in the table at the end), $REPS alternating rounds, medians:"
echo "  CPU time:  replay ${a_cpu} ms, bare pcap loop ${b_cpu} ms: ratio ${r}x (target <= ${TARGET_REPLAY}x)"
echo "  wall time: replay ${a_wall} ms, bare pcap loop ${b_wall} ms: ratio ${wall_ratio}x"
echo "  replay: $(awk -v p="$packets" -v c="$a_cpu" 'BEGIN {printf "%.2f", p / (c > 0 ? c : 1) / 1000}') M packets/s of CPU time, $(awk -v p="$packets" -v w="$a_wall" 'BEGIN {printf "%.2f", p / (w > 0 ? w : 1) / 1000}') M packets/s wall"
echo "  replay CPU runs: $a_runs; loop CPU runs: $b_runs"
if [ "${packets:-0}" -lt 2000000 ] || [ "${live:-0}" -lt "$MIN_FLOWS" ]; then
	echo "FAIL bench replay capture: ${packets:-?} packets, ${live:-?} live flows (need >= 2000000 and >= $MIN_FLOWS)"
fi
check replay "$r" "$TARGET_REPLAY"
rm -f "$work/flows.pcap"

# --- 200 more rules on many short flows ---------------------------------------
python3 "$TOP/tests/bench/gen_capture.py" "$work/short.pcap" "$SHORT_PACKETS" "$ACTIVE" 0.05 >"$work/gen2.log" ||
	{ echo "FAIL bench replay: generating the short-flow capture"; exit 1; }
{
	for i in $(seq 0 199); do
		case $((i % 6)) in
		0) echo "pass out on eth$((1 + i % 3)) proto tcp to 10.$i.0.0/16 port $((2000 + i))" ;;
		1) echo "block in on wg0 proto udp from 172.16.$i.0/24 port $((3000 + i))" ;;
		2) echo "pass out proto tcp to 192.0.2.$i port $((4000 + i))" ;;
		3) echo "block out on eth0 proto udp to port $((5000 + i))" ;;
		4) echo "block out on eth$((1 + i % 3)) to 198.18.$i.0/24" ;;
		5) echo "block out to 203.0.113.$i" ;;
		esac
	done
	cat "$rules"
} >"$work/many.rules"
"$IFWALL" replay --ifmap $ifmap "$rules" "$work/short.pcap" >"$work/a.out" &&
	"$IFWALL" replay --ifmap $ifmap "$work/many.rules" "$work/short.pcap" >"$work/b.out" ||
	{ echo "FAIL bench replay: ifwall replay failed"; exit 1; }
# The extra rules match nothing: the same verdicts either way.
if [ "$(tail -1 "$work/a.out")" != "$(tail -1 "$work/b.out")" ]; then
	echo "FAIL bench replay rules200: the 200 rules changed the verdicts"
fi
pair rules200 "$REPS" -- "$IFWALL" replay --ifmap $ifmap "$work/many.rules" "$work/short.pcap" \
	-- "$IFWALL" replay --ifmap $ifmap "$rules" "$work/short.pcap"
r=$cpu_ratio
echo "rules200: $(tail -1 "$work/b.out")"
echo "  CPU time: with 200 more rules ${a_cpu} ms, kill switch alone ${b_cpu} ms: ratio ${r}x (target <= ${TARGET_RULES}x)"
echo "  CPU runs: $a_runs; alone: $b_runs"
check rules200 "$r" "$TARGET_RULES"
