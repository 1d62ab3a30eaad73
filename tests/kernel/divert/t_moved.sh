#!/usr/bin/env bash
# If-bound state in the kernel fast path: a passed flow that a routing
# change moves to another interface is decided again (rules.md, State), so
# 'pass out on veth0' does not let it leak through veth2.
source "$(dirname "$0")/lib.sh"
divert_require_root moved-flow-stopped moved-flow-not-on-wire moved-flow-logged

echo 'pass out on veth0 all' >"$TMP/r.rules"
divert_topology
in_ns b ip addr add 10.9.9.9/32 dev lo
in_ns a ip route add 10.9.9.9/32 via 10.1.0.2 dev veth0
start_peer b tcp:80
ip netns exec "$(ns c)" tcpdump -i veth3 -n -U --immediate-mode -w "$TMP/c.pcap" 'host 10.9.9.9 or udp dst port 9' 2>"$TMP/tcpdump.err" &
tcpdump_pid=$!
CLEANUP+=("kill $tcpdump_pid")
wait_for 20 grep -q listening "$TMP/tcpdump.err"
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail moved-flow-stopped "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/kernel/divert/session.py" 10.9.9.9 80 0.2 30 >"$TMP/session.out" 2>&1 &
session=$!
wait_for 20 bash -c '[ "$(grep -c " ok$" "$1")" -ge 3 ]' _ "$TMP/session.out"
in_ns a ip route replace 10.9.9.9/32 via 10.2.0.2 dev veth2
wait "$session"
sport=$(awk '/^connected/{print $2}' "$TMP/session.out")
if /usr/bin/python3 - "$TMP/session.out" <<'PY'
import sys
states = [l.split()[1] for l in open(sys.argv[1]) if l[0].isdigit()]
i = states.index("lost")
assert i >= 3 and states[i:] == ["lost"] * 3, states
PY
then pass moved-flow-stopped; else fail moved-flow-stopped "$(tr '\n' ' ' <"$TMP/session.out")"; fi
stop_capture c 10.2.0.1 "$TMP/c.pcap" "$tcpdump_pid"
n=$(tcpdump -r "$TMP/c.pcap" -n 'host 10.9.9.9' 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then pass moved-flow-not-on-wire
else fail moved-flow-not-on-wire "$n packets of the moved flow left through veth2"; fi
check moved-flow-logged /usr/bin/python3 -c '
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
mine = [(o["iface"], o["verdict"]) for o in log if o["sport"] == int(sys.argv[2]) and o["dst"] == "10.9.9.9"]
assert mine[0] == ("veth0", "pass") and ("veth2", "block") in mine, mine' "$TMP/log.json" "$sport"
