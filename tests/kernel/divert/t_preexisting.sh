#!/usr/bin/env bash
# Connections older than 'ifwall run' are decided as their first packet was,
# even when the first packet ifwall sees comes the other way: a download a
# passed 'out' rule allows goes on, one the rules do not allow stops.
source "$(dirname "$0")/lib.sh"
divert_require_root preexisting-allowed-continues preexisting-refused-stops

echo 'pass out on veth0 proto tcp to 10.1.0.2 port 7000' >"$TMP/r.rules"
divert_topology
# Conntrack already follows connections (as on any host with a stateful
# firewall), so these are tracked from their SYN, before ifwall starts.
in_ns a nft -f - <<'NFT'
table inet ifwdivtest {
	chain out { type filter hook output priority 0; ct state established counter; }
	chain in { type filter hook input priority 0; ct state established counter; }
}
NFT
ip netns exec "$(ns b)" /usr/bin/python3 "$TOP/tests/kernel/divert/ticker.py" serve 7000 7001 >"$TMP/ticker.out" 2>&1 &
CLEANUP+=("kill $!")
wait_for 20 grep -q ready "$TMP/ticker.out"
ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/kernel/divert/ticker.py" read 10.1.0.2 7000 20 >"$TMP/allowed.out" 2>&1 &
allowed=$!
ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/kernel/divert/ticker.py" read 10.1.0.2 7001 20 >"$TMP/refused.out" 2>&1 &
refused=$!
wait_for 20 bash -c '[ "$(wc -l <"$1")" -ge 3 ]' _ "$TMP/allowed.out"
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail preexisting-allowed-continues "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
at=$(wc -l <"$TMP/allowed.out")
wait "$allowed" "$refused"
# Bytes received in the last second (5 samples) of each reader.
last_second() { tail -6 "$1" | awk 'NR==1{a=$1} END{print $1-a}'; }
[ -n "${VERBOSE:-}" ] && cat "$TMP/log.json" "$DIVERT_ERR" >&2
a=$(last_second "$TMP/allowed.out"); r=$(last_second "$TMP/refused.out")
if [ "$at" -lt 15 ] && [ "$a" -ge 10 ]; then pass preexisting-allowed-continues
else fail preexisting-allowed-continues "allowed stream: $a bytes in its last second (ifwall started at sample $at): $(tr '\n' ' ' <"$TMP/allowed.out")"; fi
if [ "$r" -eq 0 ]; then pass preexisting-refused-stops
else fail preexisting-refused-stops "refused stream: $r bytes in its last second"; fi
