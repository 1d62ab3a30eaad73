#!/usr/bin/env bash
# 'ifwall table' under traffic, with a real WireGuard tunnel (wireguard-go)
# between namespaces and the kill switch loaded with an empty endpoint table:
#   replace-under-flow  a TCP flow through the tunnel (a line every 2 ms,
#                       echoed) keeps flowing through 1,000 'ifwall table
#                       vpn_servers replace' calls alternating between
#                       "A" and "A B" (the content changes every time):
#                       no stall over 500 ms, no packet of the tunnel
#                       rejected (the kill switch's 'default out' counter
#                       does not move), no TCP retransmission; reports the
#                       replace latency (median, p99, max)
#   removed-stops       replacing the table with B (A removed): the flow
#                       stops at its next packet: 0 packets to A on the far
#                       side after the replace returned, and the flow
#                       echoes nothing more (outbound packets of an
#                       established flow are decided by the rules again;
#                       only replies ride on state)
. "$(dirname "$0")/lib.sh"
need_root_tools table-traffic wg wireguard-go nstat
$PY -c 'import scapy' 2>/dev/null || { skip table-traffic "scapy missing for $PY"; exit 0; }
net_setup || { fail table-traffic-setup "could not build the network"; exit 0; }
wg_server a 51820 || { fail table-traffic-setup "wireguard-go server"; exit 0; }
TUN=ifwh$RUN_ID
nsx $NS_CLI "$IFWALL" load "$HOOKS_DIR/killswitch.rules" || { fail table-traffic-load "ifwall load"; exit 0; }
nsx $NS_CLI "$IFWALL" table vpn_servers replace $SRV_A
bg_in $NS_CLI "$WORK/wg-cli.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f $TUN
wait_for 100 test -S /var/run/wireguard/$TUN.sock || { fail table-traffic-setup "client wireguard-go"; exit 0; }
nsx $NS_CLI wg set $TUN private-key "$WORK/cli.key" peer "$(cat "$WORK/a.pub")" \
	endpoint $SRV_A:51820 allowed-ips 10.64.0.0/24 persistent-keepalive 1
ip -n $NS_CLI addr add 10.64.0.2/32 peer 10.64.0.1/32 dev $TUN
ip -n $NS_CLI link set $TUN up
wait_for 100 eval 'tunnel_says | grep -q srvA' || { fail table-traffic-setup "no tunnel"; exit 0; }

default_out() {   # packets the kill switch's 'default out' decided
	nsx $NS_CLI "$IFWALL" show --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
entries = d.get("entries") or d.get("rules") or []
print(sum(e.get("packets", 0) for e in entries if e.get("kind") == "default out" or e.get("rule") == "default out" or e.get("origin") == "default out"))'
}
retrans() { nsx $NS_CLI nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }'; }

rej0=$(default_out); re0=$(retrans)
bg_in $NS_CLI "$WORK/stream.log" $PY "$HOOKS_DIR/stream.py" 10.64.0.1 7000 30 "$WORK/stream.json"
STREAM_PID=$LAST_PID
sleep 0.5
nsx $NS_CLI $PY - "$IFWALL" $SRV_A $SRV_B "$WORK/latency.json" <<'PY'
import json, subprocess, sys, time
ifwall, a, b, out = sys.argv[1:5]
lat, fails = [], 0
for i in range(1000):
    args = [ifwall, "table", "vpn_servers", "replace", a] + ([b] if i % 2 == 0 else [])
    t = time.perf_counter()
    rc = subprocess.run(args).returncode
    lat.append((time.perf_counter() - t) * 1000)
    fails += rc != 0
lat.sort()
json.dump({"median": round(lat[500], 2), "p99": round(lat[989], 2), "max": round(lat[-1], 2),
           "failures": fails}, open(out, "w"))
PY
rej1=$(default_out); re1=$(retrans)
lat=$(cat "$WORK/latency.json")
# the removal: the flow goes on for a moment, then A leaves the table
sleep 0.5
T_REMOVE=$(now)
nsx $NS_CLI "$IFWALL" table vpn_servers replace $SRV_B
T_REMOVED=$(now)
wait "$STREAM_PID" 2>/dev/null
stream=$(cat "$WORK/stream.json" 2>/dev/null)
read -r sent echoed gap last < <($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sent"], d["echoed"], d["max_gap_ms"], d["last_echo"])' "$WORK/stream.json")
failures=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["failures"])' "$WORK/latency.json")
if [ "$failures" = 0 ] && [ "$((rej1 - rej0))" = 0 ] && [ "$((re1 - re0))" = 0 ] &&
   $PY -c "import sys; sys.exit(0 if float('$gap') < 500 else 1)"; then
	pass table-replace-under-flow "1000 replaces, latency ms $lat; tunnel packets rejected: $((rej1 - rej0)); TCP retransmissions: $((re1 - re0)); flow: $echoed of $sent lines echoed, longest gap $gap ms (includes the removal below)"
else
	fail table-replace-under-flow "replace failures $failures, tunnel packets rejected $((rej1 - rej0)), retransmissions $((re1 - re0)), longest echo gap $gap ms (latency $lat)"
fi
after=$(packets_to "$T_REMOVED" "$(now)" $SRV_A)
late=$($PY -c "print(max(0, round(($last - $T_REMOVED) * 1000, 1)))")
if [ "$after" = 0 ] && $PY -c "import sys; sys.exit(0 if $last <= $T_REMOVED + 0.05 else 1)"; then
	pass table-removed-stops "after 'replace B' returned: 0 packets to A on the far side (the flow kept sending), last echo ${late} ms after it"
else
	fail table-removed-stops "$after packets reached A after its removal; last echo ${late} ms after it"
fi
nsx $NS_CLI "$IFWALL" table vpn_servers test $SRV_A >/dev/null
[ $? = 1 ] && pass table-removed-test "'table vpn_servers test A' exits 1 after the removal" ||
	fail table-removed-test "test A did not exit 1"
