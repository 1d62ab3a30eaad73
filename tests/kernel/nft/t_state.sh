#!/usr/bin/env bash
# Flow state of the nft backend against real traffic (issue 12):
#   - item 1: state ends with its flow (a SYN flood's entries go when
#     conntrack's do) and new connections keep working after many flows;
#   - item 6: ICMP errors about a flow pass on the flow's interface, for
#     inbound flows as for outbound ones (path MTU discovery);
#   - item 5: a reload re-checks existing flows: replies of a flow the new
#     rules block stop at once, those of a flow both allow keep coming.
#
#   host ($RUN-host)                        peer ($RUN-peer, a real stack)
#   eth0 192.168.1.2/24 fd01::2/64  ---- p0 192.168.1.1 fd01::1
#   wg0  10.64.0.2/24               ---- p1 10.64.0.1
. "$(dirname "$0")/lib.sh"
need_root nft-state
$PY -c 'import scapy' 2>/dev/null || { skip nft-state "scapy missing for $PY (python3-scapy)"; exit 0; }

HOST=$RUN-host PEER=$RUN-peer
add_ns "$HOST" && add_ns "$PEER" || { fail nft-state-setup "namespaces"; exit 0; }
export PEER_NS=$PEER
for ns in "$HOST" "$PEER"; do
	nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
link() {  # HOSTIF PEERIF H4 P4 [H6 P6]
	ip -n "$HOST" link add "$1" type veth peer name "$2" netns "$PEER" || return 1
	ip -n "$HOST" addr add "$3/24" dev "$1"; ip -n "$PEER" addr add "$4/24" dev "$2"
	if [ -n "${5:-}" ]; then
		ip -n "$HOST" addr add "$5/64" dev "$1" nodad; ip -n "$PEER" addr add "$6/64" dev "$2" nodad
	fi
	ip -n "$HOST" link set "$1" up; ip -n "$PEER" link set "$2" up
}
link eth0 p0 192.168.1.2 192.168.1.1 fd01::2 fd01::1 && link wg0 p1 10.64.0.2 10.64.0.1 ||
	{ fail nft-state-setup "could not build the test network"; exit 0; }
# static IPv6 neighbours: the rules under test drop neighbour discovery
eth0mac=$(ip -n "$HOST" -br link show eth0 | awk '{print $3}')
p0mac=$(ip -n "$PEER" -br link show p0 | awk '{print $3}')
ip -n "$PEER" neigh replace fd01::2 lladdr "$eth0mac" dev p0 nud permanent
ip -n "$HOST" neigh replace fd01::1 lladdr "$p0mac" dev eth0 nud permanent
sleep 1
live() { nsx "$HOST" $PY "$NFT_DIR/live.py" "$@"; }
state_count() { nsx "$HOST" nft list set inet ifwall state 2>/dev/null | grep -o 'expires' | wc -l; }
cd "$WORK" || exit 1

# --- item 1: state ends with its flow -----------------------------------------
cat >flood.rules <<'RULES'
set default in drop
set default out reject
pass in on eth0 proto tcp to port 22
pass out on wg0 all
RULES
# Short conntrack timeouts for half-open connections (this namespace only),
# so that the flood's conntrack entries end within seconds.
nsx "$HOST" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_syn_recv=4 \
	net.netfilter.nf_conntrack_tcp_timeout_syn_sent=4 net.ipv4.tcp_synack_retries=1 \
	net.ipv4.tcp_syncookies=1
ip -n "$HOST" neigh replace 192.168.1.77 lladdr "$p0mac" dev eth0 nud permanent
nsx "$HOST" "$IFWALL" load flood.rules || fail nft-state-expiry "load failed"
ip netns exec "$HOST" $PY -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(4096)
time.sleep(60)' & listener=$!
sleep 0.3
N=${FLOOD:-20000}
start=$(date +%s.%N)
live flood $N 22
sleep 1
peak=$(state_count)
conns=$(nsx "$HOST" cat /proc/sys/net/netfilter/nf_conntrack_count)
waited=0
while [ $waited -lt 20 ]; do
	sleep 2; waited=$((waited + 2))
	now=$(state_count)
	[ "$now" -le 10 ] && break
done
ct_now=$(nsx "$HOST" cat /proc/sys/net/netfilter/nf_conntrack_count)
if [ "$peak" -ge $((N / 2)) ] && [ "$now" -le 10 ]; then
	pass nft-state-expiry "$N half-open flows: $peak state entries ($conns conntrack entries) after the flood, $now after ${waited}s ($ct_now conntrack entries)"
else
	fail nft-state-expiry "$N half-open flows: $peak state entries after the flood, still $now after ${waited}s ($ct_now conntrack entries): state outlives its flows"
fi
# new connections still work after the flood, in both directions
ok=$(nsx "$PEER" $PY -c '
import socket
s = socket.create_connection(("192.168.1.2", 22), timeout=2); print("ok")' 2>&1)
if [ "$ok" = ok ]; then
	pass nft-state-after-flood "a new connection to port 22 after $N flows is accepted and answered"
else
	fail nft-state-after-flood "a new connection after the flood failed: $ok"
fi
kill $listener 2>/dev/null; wait $listener 2>/dev/null
grep -q 'size 1048576' <(nsx "$HOST" nft list set inet ifwall state 2>/dev/null | head -5) \
	&& pass nft-state-bounded "@state has a size (1048576)" \
	|| fail nft-state-bounded "@state has no size 1048576"
nsx "$HOST" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_syn_recv=60 \
	net.netfilter.nf_conntrack_tcp_timeout_syn_sent=120 net.ipv4.tcp_synack_retries=5

# --- item 6: ICMP errors about inbound and outbound flows ---------------------
cat >errors.rules <<'RULES'
set default in drop
set default out drop
pass in on eth0 proto tcp to port 22
pass out on wg0 all
RULES
nsx "$HOST" "$IFWALL" load errors.rules || fail nft-icmp-errors "load failed"
got=$(live icmp-errors 2>&1 | tail -1)
want="in-v4-frag-needed=delivered in-v6-packet-too-big=delivered out-v4-frag-needed=delivered in-v4-wrong-interface=dropped no-flow=dropped"
if [ "$got" = "$want" ]; then
	pass nft-icmp-errors "errors about an inbound flow (port 22, v4 and v6) and an outbound one pass on the flow's interface; on another interface, or about no flow, dropped"
else
	fail nft-icmp-errors "got: $got; want: $want"
fi

# --- item 5: a reload re-checks existing flows --------------------------------
cat >before.rules <<'RULES'
set default in drop
set default out reject
pass out on eth0 proto udp to port 6000
pass out on wg0 all
RULES
cat >after.rules <<'RULES'
set default in drop
set default out reject
block on eth0 all
pass out on wg0 all
RULES
nsx "$HOST" "$IFWALL" load before.rules || fail nft-reload-recheck "load failed"
live stream 4 >stream.out 2>&1 & streamer=$!
for i in $(seq 50); do grep -q started stream.out 2>/dev/null && break; sleep 0.1; done
sleep 1.5
nsx "$HOST" "$IFWALL" load -v after.rules 2>reload.err || fail nft-reload-recheck "reload failed: $(cat reload.err)"
wait $streamer
eth0=$(awk '$1 == "eth0"' stream.out); wg0=$(awk '$1 == "wg0"' stream.out)
# half-second slots: the reload is in the fourth; count from the fifth on
eth0_after=$(awk '$1 == "eth0" { s = 0; for (i = 6; i <= NF; i++) s += $i; print s }' stream.out)
# the peer's sends and the slots drift: compare sums, not slots
wg0_lost=$(awk '$1 == "wg0" { s = 0; for (i = 6; i <= NF; i++) s += $i; print 10 * (NF - 5) - s }' stream.out)
eth0_before=$(awk '$1 == "eth0" { print $2 + $3 + $4 }' stream.out)
if [ "${eth0_before:-0}" -ge 20 ] && [ "${eth0_after:-1}" -eq 0 ] && [ "${wg0_lost:-99}" -le 10 ]; then
	pass nft-reload-recheck "after 'block on eth0 all': 0 packets of the eth0 stream arrived (10 per 0.5 s before); the wg0 stream both allow kept arriving [$eth0 | $wg0 | $(grep -o '[0-9]* flows re-checked, [0-9]* blocked' reload.err)]"
else
	fail nft-reload-recheck "per 0.5 s: $eth0; $wg0 (want the eth0 stream to stop after the reload and wg0's to go on)"
fi
exit 0
