#!/usr/bin/env bash
# A SYN flood through the divert backend (root, network namespaces).
# Namespace a runs `ifwall run --backend divert` with a kill switch whose
# endpoint is b's port 80 and two inbound services: port 8080 is allowed,
# port 8081 is not (the kill switch's inbound default drops it). b floods a
# with SYNS_TOTAL SYNs (tools/helpers/synflood, raw socket), each from a
# distinct (address in 10.9.0.0/16, port), half to 8080, half to 8081.
# Asserted, with the numbers in the PASS lines:
#   - memory stays bounded: VmHWM of ifwall below RSS_BUDGET_KB;
#   - an established flow opened before the flood (a TCP session to b:80
#     exchanging a byte every 0.2 s) loses no exchange during it;
#   - new-flow verdicts keep flowing: during the flood a new connection to
#     b:80 (out) and one from c to a:8080 (in, another interface) connect
#     within 5 s; a connection from c to the blocked port 8081 never does;
#   - no flood SYN to 8081 reaches the host's TCP stack (an nft counter
#     after ifwall's chains, as oracle), while SYNs to 8080 do;
#   - the process survives and still decides after the flood.
source "$TOP/tests/kernel/divert/lib.sh"
CASES="synflood-memory synflood-established synflood-new-allowed synflood-new-blocked synflood-blocked-syns synflood-survives"
divert_require_root $CASES
SYNS_TOTAL=${SYNS_TOTAL:-200000}
# SYNs per second: the flood lasts about 4 s, so the new connections below
# are tried while it runs (0: as fast as the sender can).
SYN_RATE=${SYN_RATE:-50000}
# A sanitizer build's own memory (shadow, the quarantine of freed blocks,
# recorded stacks) comes on top of ifwall's: its budget is twice as large.
# What the flood can make ifwall keep (65,536 flows at most) is the same.
case $O in *san*) RSS_BUDGET_KB=${RSS_BUDGET_KB:-65536} ;; *) RSS_BUDGET_KB=${RSS_BUDGET_KB:-32768} ;; esac
FLOOD=$TOP/$O/tools/synflood
[ -x "$FLOOD" ] || { for c in $CASES; do fail "$c" "$FLOOD not built"; done; exit 0; }

cat >"$TMP/ks.rules" <<'R'
killswitch {
    tunnel wg0
    endpoint 10.1.0.2 port 80 proto tcp
}
pass in proto tcp to { 10.1.0.1 10.2.0.1 } port 8080
R
chmod 600 "$TMP/ks.rules"
divert_topology
# The flood's sources are routed back through b (which drops the answers).
in_ns a ip route add 10.9.0.0/16 via 10.1.0.2
start_peer b tcp:80,83
start_peer a tcp:8080,8081
# Oracle: SYNs that reach the host's stack after ifwall's chains decided.
in_ns a nft -f - <<'NFT'
table inet ifwhard_count {
	chain input {
		type filter hook input priority 10; policy accept;
		tcp dport 8080 tcp flags syn counter comment "syn8080"
		tcp dport 8081 tcp flags syn counter comment "syn8081"
	}
}
NFT
syn_count() { in_ns a nft list table inet ifwhard_count | grep "dport $1" | grep -o 'packets [0-9]*' | awk '{print $2}'; }

start_divert a "$TMP/ks.rules" || {
	for c in $CASES; do fail "$c" "ifwall run did not start: $(head -c 300 "$DIVERT_ERR")"; done; exit 0; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$DIVERT_PID/status"; }
rss_before=$(status_kb VmRSS)

in_ns a /usr/bin/python3 "$TOP/tests/kernel/divert/session.py" 10.1.0.2 80 0.2 40 >"$TMP/session.out" 2>&1 &
session=$!
wait_for 20 grep -q ' ok$' "$TMP/session.out"

in_ns b "$FLOOD" 10.1.0.1 8080,8081 "$SYNS_TOTAL" 10.9.0.0/16 "$SYN_RATE" >"$TMP/flood.out" 2>&1 &
flood=$!
# New flows while the flood runs: once its SYNs reach the host.
flooding() { [ "$(syn_count 8080)" -gt 0 ] 2>/dev/null; }
wait_for 20 flooding
kill -0 $flood 2>/dev/null && during=yes || during=no
probe a 5 tcp:10.1.0.2:80 >"$TMP/new-out.txt" &
p1=$!
probe c 5 tcp:10.2.0.1:8080 tcp:10.2.0.1:8081 >"$TMP/new-in.txt" &
p2=$!
peak_rss=0
while kill -0 $flood 2>/dev/null; do
	r=$(status_kb VmRSS); [ -n "$r" ] && [ "$r" -gt "$peak_rss" ] && peak_rss=$r
	sleep 0.1
done
wait $flood
wait $p1 $p2
flood_line=$(cat "$TMP/flood.out")
wait "$session"
hwm=$(status_kb VmHWM); rss_after=$(status_kb VmRSS)

if [ -n "$hwm" ] && [ "$hwm" -lt "$RSS_BUDGET_KB" ]; then
	pass "synflood-memory: VmHWM ${hwm} kB < budget ${RSS_BUDGET_KB} kB (VmRSS ${rss_before} kB before, peak sampled ${peak_rss} kB, ${rss_after} kB after; flood: $flood_line)"
else
	fail synflood-memory "VmHWM ${hwm:-?} kB, budget ${RSS_BUDGET_KB} kB (flood: $flood_line)"
fi

oks=$(grep -c ' ok$' "$TMP/session.out"); lost=$(grep -c ' lost$' "$TMP/session.out")
if [ "$oks" -eq 40 ] && [ "$lost" -eq 0 ]; then
	pass "synflood-established: session opened before the flood: $oks/40 exchanges ok over 8 s, 0 lost"
else
	fail synflood-established "$oks ok, $lost lost: $(tail -3 "$TMP/session.out" | tr '\n' ' ')"
fi

out_v=$(awk '{print $2, $3}' "$TMP/new-out.txt"); in_v=$(grep ':8080 ' "$TMP/new-in.txt" | awk '{print $2, $3}')
if [ $during = no ]; then
	fail synflood-new-allowed "the flood was over before the new connections (raise SYNS_TOTAL or lower SYN_RATE)"
elif [[ $out_v == pass* ]] && [[ $in_v == pass* ]]; then
	pass "synflood-new-allowed: during the flood, new out a->b:80 connected in ${out_v#pass } ms, new in c->a:8080 in ${in_v#pass } ms"
else
	fail synflood-new-allowed "out a->b:80: '$out_v', in c->a:8080: '$in_v' (want pass within 5 s)"
fi
bl=$(grep ':8081 ' "$TMP/new-in.txt" | awk '{print $2}')
if [ "$bl" = block ]; then pass "synflood-new-blocked: c->a:8081 during the flood: block (no answer in 5 s)"
else fail synflood-new-blocked "c->a:8081 during the flood: '$bl' (want block)"; fi

s80=$(syn_count 8080); s81=$(syn_count 8081)
if [ "${s81:-x}" = 0 ] && [ "${s80:-0}" -gt 0 ]; then
	pass "synflood-blocked-syns: SYNs past ifwall to 8081: 0; to 8080 (allowed): $s80 (flood: $((SYNS_TOTAL / 2)) sent, plus the probe from c)"
else
	fail synflood-blocked-syns "SYNs past ifwall: 8081: ${s81:-?} (want 0), 8080: ${s80:-?} (want > 0)"
fi

after=$(probe a 3 tcp:10.1.0.2:80 tcp:10.1.0.2:83 | awk '{printf "%s ", $2}')
if kill -0 "$DIVERT_PID" 2>/dev/null && [ "$after" = "pass reject " ]; then
	kill -TERM "$DIVERT_PID"; wait "$DIVERT_PID"; rc=$?
	stats=$(grep 'packets decided' "$DIVERT_ERR" | sed 's/^ifwall run: //')
	if [ $rc -eq 0 ]; then pass "synflood-survives: alive after the flood, deciding (b:80 pass, b:83 reject), exit 0 on SIGTERM: $stats"
	else fail synflood-survives "exit $rc on SIGTERM: $(tail -3 "$DIVERT_ERR")"; fi
else
	fail synflood-survives "alive: $(kill -0 "$DIVERT_PID" 2>/dev/null && echo yes || echo no); after the flood: '$after' (want pass reject); $(tail -3 "$DIVERT_ERR")"
fi
