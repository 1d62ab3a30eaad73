#!/usr/bin/env bash
# Hostile input: a capture crafted to create 2 million distinct flows
# (tools/helpers/gen_flood.c: one packet per flow, half passed out on wg0,
# half SYNs blocked in on eth0, IPv4 and IPv6), with three long-lived flows
# interleaved. Replayed at --max-flows 65536 and at 4096:
#   - replay finishes (exit 0; 1 with --leaks), every flow is reported once
#     and the summary counts them, evictions happen and are counted;
#   - the long-lived passed flows keep their state through the flood (one
#     flow each, every packet counted, replies passed by state, never
#     decided anew); the long-lived blocked flow is always blocked (blocked
#     flows are evicted first, so it may be reported as several flows);
#   - --leaks still lists the one leaking flow;
#   - the 500,000 distinct sources passing out on wg0 are not all learned
#     as interface addresses (capped, with a warning);
#   - peak RSS (GNU time's "Maximum resident set size") stays under a budget
#     derived from the flow table limit, and follows the limit, not the
#     number of flows in the capture;
#   - eviction costs O(1) per new flow: per-flow CPU time at a 16 times
#     larger table stays within a small factor.
#
# Memory budget, per flow of the table's limit: the engine's entry (at most
# 176 bytes, a static assert in filter/flow.c) + its hash bucket (16) + the
# replay's per-flow note (88 + hash bucket) is about 300 bytes; the budget
# allows 400 bytes per flow plus 8 MB for the process itself (binary, libc,
# libpcap, stdio), so 8 MB + 400 B x 65536 = 33.2 MB at the default limit
# and 9.6 MB at 4096. (Before streaming, replay kept every ended flow: ~250
# bytes per flow of the capture, over 500 MB here.)
#
# SAN build (O=build-san): ASan's allocator (redzones, shadow memory,
# quarantine) and speed (2-5x slower) do not fit these figures: the
# capture is scaled down to 200,000 flows and the budgets get 32 MB of
# allocator overhead added; the ratio checks stay.
set -u
: "${IFWALL:?}" "${O:?}" "${TOP:?}"
gen=$TOP/$O/tools/gen_flood
TIME=/usr/bin/time
if [ ! -x "$gen" ]; then echo "FAIL flood: $gen not built"; exit 0; fi
if [ ! -x "$TIME" ]; then echo "FAIL flood: $TIME missing (GNU time: tests/deps.sh)"; exit 0; fi

count=${FLOOD_COUNT:-2000000}
san_extra_kb=0
if [[ $O == *san* ]]; then
	count=${FLOOD_COUNT:-200000}
	san_extra_kb=$((32 * 1024))
	echo "# SAN build: $count flows instead of 2000000, budgets + 32 MB"
fi
base_kb=$((8 * 1024))
per_flow=400

d=$(mktemp -d /tmp/ifw-flood.XXXXXX)
trap 'rm -rf "$d"' EXIT
cat >"$d/flood.rules" <<'EOF'
set default block
pass out on wg0 all
pass out on eth0 proto udp to 198.51.100.7 port 51820
EOF

if ! "$gen" -n "$count" "$d/flood.pcap" 2>"$d/gen.err"; then
	echo "FAIL flood: gen_flood: $(head -1 "$d/gen.err")"; exit 0
fi
long() { awk -v k="L$1" '$1 == "long" && $2 == k { print $3 }' "$d/gen.err"; }
L1=$(long 1) L2=$(long 2) L3=$(long 3)
packets=$((count + L1 + L2 + L3))

# Replays with a flow table limit; keeps the long-lived flows' lines, the
# summary and leak lines, and counts the other flow lines. Sets rc, rss_kb,
# cpu (user+sys seconds).
replay() {
	local limit=$1 tag=$2; shift 2
	"$TIME" -v -o "$d/time.$tag" "$IFWALL" replay --ifmap 2=eth0,5=wg0 --max-flows "$limit" "$@" \
		"$d/flood.rules" "$d/flood.pcap" 2>"$d/err.$tag" |
		awk '/^summary:|^leak:|93\.184\.216\.34|198\.51\.100\.7|203\.0\.113\.9/ { print; next }
		     { others++ } END { print "others", others + 0 }' >"$d/out.$tag"
	rc=${PIPESTATUS[0]}
	rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$d/time.$tag")
	cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$d/time.$tag")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$d/time.$tag")
	flows=$(summary_field flows "$tag")
}

summary_field() { # tag name
	grep '^summary:' "$d/out.$2" | grep -o "[0-9]* $1" | cut -d' ' -f1
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

check_run() { # limit tag expected_rc
	local limit=$1 tag=$2 want_rc=$3 t="flood $1"
	local flows evicted others lines l3bad l3sum
	if [ "$rc" -eq "$want_rc" ]; then echo "PASS $t: exit $rc"
	else echo "FAIL $t: exit $rc, want $want_rc: $(head -2 "$d/err.$tag")"; fi
	flows=$(summary_field flows "$tag"); evicted=$(summary_field evicted "$tag")
	if [ "$(summary_field packets "$tag")" = "$packets" ]; then
		echo "PASS $t: summary counts $packets packets"
	else echo "FAIL $t: summary: $(grep '^summary' "$d/out.$tag")"; fi
	others=$(awk '$1 == "others" { print $2 }' "$d/out.$tag")
	lines=$(grep -vc '^summary:\|^leak:\|^others' "$d/out.$tag")
	if [ -n "$flows" ] && [ "$flows" -ge "$count" ] && [ "$flows" -eq $((others + lines)) ]; then
		echo "PASS $t: $flows flows, each reported once"
	else echo "FAIL $t: flows '$flows', flow lines $((others + lines)), want >= $count"; fi
	if [ -n "$evicted" ] && [ "$evicted" -ge $((flows - limit)) ] && [ "$evicted" -lt "$flows" ]; then
		echo "PASS $t: $evicted flows evicted"
	else echo "FAIL $t: evicted '$evicted' of $flows flows (limit $limit)"; fi
	if grep -qx "pass out wg0 tcp 10.8.0.2:62000 > 93.184.216.34:443 $L1 packets [0-9]* bytes $d/flood.rules:2" "$d/out.$tag" &&
	   [ "$(grep -c '93\.184\.216\.34' "$d/out.$tag")" -eq 1 ]; then
		echo "PASS $t: long-lived tcp flow kept its state ($L1 packets, replies passed)"
	else echo "FAIL $t: long-lived tcp flow: $(grep '93\.184\.216\.34' "$d/out.$tag" | head -3)"; fi
	if grep -qx "pass out eth0 udp 192.168.1.10:51820 > 198.51.100.7:51820 $L2 packets [0-9]* bytes $d/flood.rules:3" "$d/out.$tag" &&
	   [ "$(grep -v '^leak:' "$d/out.$tag" | grep -c '198\.51\.100\.7')" -eq 1 ]; then
		echo "PASS $t: long-lived udp flow kept its state ($L2 packets, replies passed)"
	else echo "FAIL $t: long-lived udp flow: $(grep '198\.51\.100\.7' "$d/out.$tag" | head -3)"; fi
	l3bad=$(grep '203\.0\.113\.9' "$d/out.$tag" |
		grep -vc "^block in eth0 tcp 203.0.113.9:63000 > 192.168.1.10:22 [0-9]* packets [0-9]* bytes default$")
	l3sum=$(awk '/^block in eth0 tcp 203\.0\.113\.9:63000 / { s += $8 } END { print s + 0 }' "$d/out.$tag")
	if [ "$l3bad" -eq 0 ] && [ "$l3sum" -eq "$L3" ]; then
		echo "PASS $t: long-lived blocked flow always blocked ($L3 packets)"
	else echo "FAIL $t: long-lived blocked flow: $l3bad odd lines, $l3sum of $L3 packets"; fi
}

replay 65536 big
big_rss=$rss_kb big_cpu=$cpu big_wall=$wall big_flows=$flows
check_run 65536 big 0
replay 4096 small --leaks '!wg0'
small_rss=$rss_kb small_cpu=$cpu small_wall=$wall small_flows=$flows
check_run 4096 small 1
if [ "$(grep -c '^leak:' "$d/out.small")" -eq 1 ] &&
   grep -qx "leak: pass out eth0 udp 192.168.1.10:51820 > 198.51.100.7:51820 $L2 packets [0-9]* bytes $d/flood.rules:3" "$d/out.small"; then
	echo "PASS flood 4096: --leaks lists the one leaking flow"
else echo "FAIL flood 4096: leak lines: $(grep '^leak:' "$d/out.small" | head -3)"; fi

# Sources passing out: 10.8.0.2, 192.168.1.10 and count / 4 on wg0's fd00::1:0/96.
if grep -q "warning: more than 4096 source addresses passed out; $((count / 4 + 2 - 4096)) flows' sources were not learned" "$d/err.big"; then
	echo "PASS flood: learned interface addresses capped at 4096, with a warning"
else echo "FAIL flood: no warning about unlearned addresses: $(head -2 "$d/err.big")"; fi

rate() { awk -v n="${1:-0}" -v s="$2" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }'; }
for run in "65536 $big_rss $big_cpu $big_wall $big_flows" "4096 $small_rss $small_cpu $small_wall $small_flows"; do
	set -- $run
	budget=$((base_kb + per_flow * $1 / 1024 + san_extra_kb))
	if [ -n "$2" ] && [ "$2" -le "$budget" ]; then
		echo "PASS flood $1: peak RSS $(mb "$2") <= budget $(mb "$budget") (${5:-?} flows in ${4}s: $(rate "${5:-0}" "$4") flows/s; ${3}s cpu)"
	else echo "FAIL flood $1: peak RSS $(mb "${2:-0}") over budget $(mb "$budget")"; fi
done
# Memory follows the limit: the larger table uses (at least 100 bytes per
# flow) more; without streaming both would be dominated by the 2M flows.
if [ -n "$big_rss" ] && [ -n "$small_rss" ] &&
   [ $((big_rss - small_rss)) -ge $((100 * (65536 - 4096) / 1024)) ]; then
	echo "PASS flood: memory follows the limit ($(mb "$small_rss") at 4096, $(mb "$big_rss") at 65536)"
else echo "FAIL flood: memory does not follow the limit ($(mb "${small_rss:-0}") at 4096, $(mb "${big_rss:-0}") at 65536)"; fi
# O(1) eviction: a scan of the table per new flow would make the 65536 run
# about 16 times slower per flow than the 4096 one.
if awk -v a="$big_cpu" -v b="$small_cpu" 'BEGIN { exit !(b > 0 && a / b < 4) }'; then
	echo "PASS flood: eviction cost independent of the table size (${big_cpu}s cpu at 65536, ${small_cpu}s at 4096)"
else echo "FAIL flood: per-flow cost grows with the table (${big_cpu}s cpu at 65536, ${small_cpu}s at 4096)"; fi
