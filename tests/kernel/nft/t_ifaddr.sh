#!/usr/bin/env bash
# '(IFSPEC)' under nft gives the engine's verdicts (issue 12 item 9), with
# real traffic:
#   - a LAN peer reaches the host's eth0 address through lan0 under the
#     kill switch with 'allow lan' and 'pass in on lan0 ... port 22', as
#     query and divert let it (the old nft form, "any local address not on
#     the arrival interface", dropped it);
#   - a CVE-2019-14899 probe to the tunnel's address arriving on eth0 (and
#     on lan0) still gets no answer;
#   - after a one-shot 'load', the tunnel re-added with another address:
#     the probe to the new address still gets no answer (the guard); a new
#     address of eth0 reached through lan0 is blocked until the next load
#     or refresh (the window nft.h documents, closed side), then passes;
#   - nft_ifaddr_sets_refresh() (tools/helpers/ifaddr_refresh, what 'run
#     --backend nft' calls on address events) brings the sets current.
#
#   peer ($RUN-peer)  peer0 10.1.0.2 ---- lan0 10.1.0.1   host ($RUN-host)
#                                         wg0  10.64.0.2 (tun, no peer)
#   isp ($RUN-isp)    isp0 192.168.1.1 -- eth0 192.168.1.2
. "$(dirname "$0")/lib.sh"
need_root nft-ifaddr

HOST=$RUN-host PEER=$RUN-peer ISP=$RUN-isp
REFRESH=$(dirname "$IFWALL")/tools/ifaddr_refresh
add_ns "$HOST" && add_ns "$PEER" && add_ns "$ISP" || { fail nft-ifaddr-setup "namespaces"; exit 0; }
for ns in "$HOST" "$PEER" "$ISP"; do
	nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
setup() {
	ip -n "$HOST" link add lan0 type veth peer name peer0 netns "$PEER" || return 1
	ip -n "$HOST" link add eth0 type veth peer name isp0 netns "$ISP" || return 1
	ip -n "$HOST" tuntap add dev wg0 mode tun || return 1
	ip -n "$HOST" addr add 10.1.0.1/24 dev lan0
	ip -n "$HOST" addr add 192.168.1.2/24 dev eth0
	ip -n "$HOST" addr add 10.64.0.2/32 dev wg0
	ip -n "$PEER" addr add 10.1.0.2/24 dev peer0
	ip -n "$ISP" addr add 192.168.1.1/24 dev isp0
	for l in "$HOST lan0" "$HOST eth0" "$HOST wg0" "$PEER peer0" "$ISP isp0"; do
		set -- $l; ip -n "$1" link set "$2" up || return 1
	done
	# the peer reaches the host's other addresses through lan0; the ISP
	# side sends the probes for the tunnel's addresses to eth0
	ip -n "$PEER" route add default via 10.1.0.1
	ip -n "$ISP" route add 10.64.0.0/24 via 192.168.1.2
}
setup >"$WORK/setup.log" 2>&1 || { fail nft-ifaddr-setup "$(tail -3 "$WORK/setup.log" | tr '\n' ' ')"; exit 0; }
# a server on port 22 of every host address
nsx "$HOST" $PY -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' >/dev/null 2>&1 &
cd "$WORK" || exit 1

# probe NS ADDR: connected, refused (an answer either way) or timeout
probe() {
	nsx "$1" $PY -c '
import socket, sys
s = socket.socket(); s.settimeout(1.5)
try:
    s.connect((sys.argv[1], 22)); print("connected")
except socket.timeout: print("timeout")
except ConnectionRefusedError: print("refused")
except OSError as e: print("error-%d" % e.errno)' "$2"
}
# want NAME NS ADDR RESULT
want() {
	local got; got=$(probe "$2" "$3")
	[ "$got" = "$4" ] && pass "$1" "$3 $got" || fail "$1" "$3: $got, want $4"
}
elements() { nsx "$HOST" nft list set inet ifwall "$1" 2>/dev/null | tr -d '\n\t' | grep -o 'elements = {[^}]*}'; }

for i in $(seq 50); do probe "$PEER" 10.1.0.1 | grep -q connected && break; sleep 0.1; done
want nft-ifaddr-nofw-peer "$PEER" 192.168.1.2 connected
want nft-ifaddr-nofw-probe-seen "$ISP" 10.64.0.2 connected

cat >ks.rules <<'RULES'
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp
    allow lan
}
pass in on lan0 proto tcp to port 22
RULES
chmod 0644 ks.rules

# --- the engine's verdicts (query) ---------------------------------------------
ifaddrs=eth0=192.168.1.2,lan0=10.1.0.1,wg0=10.64.0.2
q() { "$IFWALL" query --ifaddr "$ifaddrs" ks.rules "$1" 2>/dev/null | cut -d' ' -f1; }
[ "$(q 'in on lan0 tcp 10.1.0.2:40000 > 192.168.1.2:22')" = pass ] &&
	pass nft-ifaddr-query-peer "pass" || fail nft-ifaddr-query-peer "$(q 'in on lan0 tcp 10.1.0.2:40000 > 192.168.1.2:22')"
[ "$(q 'in on eth0 tcp 192.168.1.1:40000 > 10.64.0.2:22')" = block ] &&
	pass nft-ifaddr-query-probe "block" || fail nft-ifaddr-query-probe "$(q 'in on eth0 tcp 192.168.1.1:40000 > 10.64.0.2:22')"

# --- nft, one-shot load ----------------------------------------------------------
if ! nsx "$HOST" "$IFWALL" load ks.rules 2>load.err; then
	fail nft-ifaddr-load "$(head -3 load.err | tr '\n' ' ')"; exit 0
fi
want nft-ifaddr-peer-to-eth0-address "$PEER" 192.168.1.2 connected
want nft-ifaddr-peer-to-lan0-address "$PEER" 10.1.0.1 connected
want nft-ifaddr-cve-probe-eth0 "$ISP" 10.64.0.2 timeout
want nft-ifaddr-cve-probe-lan0 "$PEER" 10.64.0.2 timeout
e=$(elements ifaddr_0_v4)
[ "$e" = "elements = { 10.64.0.2 }" ] && pass nft-ifaddr-set-filled "$e" || fail nft-ifaddr-set-filled "ifaddr_0_v4: '$e'"

# The tunnel reconnects with another address, eth0 gets a second one; no
# reload. The guard keeps the probe to the new tunnel address unanswered;
# the new eth0 address is reachable on eth0 itself, but through lan0 only
# after the sets are refreshed (the one-shot window, closed side).
ip -n "$HOST" addr del 10.64.0.2/32 dev wg0
ip -n "$HOST" addr add 10.64.0.3/32 dev wg0
ip -n "$HOST" addr add 192.168.1.3/24 dev eth0
e=$(elements ifaddr_0_v4)
[ "$e" = "elements = { 10.64.0.2 }" ] && pass nft-ifaddr-load-is-a-snapshot "$e" || fail nft-ifaddr-load-is-a-snapshot "'$e'"
want nft-ifaddr-window-cve-probe-new-tunnel-address "$ISP" 10.64.0.3 timeout
want nft-ifaddr-window-cve-probe-new-tunnel-address-lan0 "$PEER" 10.64.0.3 timeout
want nft-ifaddr-window-new-eth0-address-on-eth0 "$ISP" 192.168.1.3 connected
want nft-ifaddr-window-new-eth0-address-via-lan0-blocked "$PEER" 192.168.1.3 timeout
want nft-ifaddr-window-old-eth0-address "$PEER" 192.168.1.2 connected

# Loading again brings the sets current.
nsx "$HOST" "$IFWALL" load ks.rules 2>/dev/null || fail nft-ifaddr-reload "load failed"
e=$(elements ifaddr_0_v4)
[ "$e" = "elements = { 10.64.0.3 }" ] && pass nft-ifaddr-reload-set "$e" || fail nft-ifaddr-reload-set "'$e'"
want nft-ifaddr-reload-new-eth0-address-via-lan0 "$PEER" 192.168.1.3 connected
want nft-ifaddr-reload-cve-probe "$ISP" 10.64.0.3 timeout

# --- nft_ifaddr_sets_refresh(), as the resident owner calls it ------------------------
if [ -x "$REFRESH" ]; then
	nsx "$HOST" "$REFRESH" --watch 30 ks.rules >refresh.out 2>refresh.err &
	RPID=$!
	for i in $(seq 50); do grep -q '^ready' refresh.out && break; sleep 0.1; done
	ip -n "$HOST" addr del 10.64.0.3/32 dev wg0
	ip -n "$HOST" addr add 10.64.0.4/32 dev wg0
	ip -n "$HOST" addr add 192.168.1.4/24 dev eth0
	start=$(date +%s%N)
	for i in $(seq 50); do [ "$(elements ifaddr_0_v4)" = "elements = { 10.64.0.4 }" ] && break; sleep 0.05; done
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	e=$(elements ifaddr_0_v4)
	[ "$e" = "elements = { 10.64.0.4 }" ] && pass nft-ifaddr-refresh-set "$e within ${ms} ms" ||
		fail nft-ifaddr-refresh-set "'$e' after ${ms} ms: $(head -3 refresh.err)"
	e=$(elements ifaddr_all_v4)
	case $e in *10.64.0.3*) fail nft-ifaddr-refresh-all "old address kept: $e" ;;
	*192.168.1.4*) pass nft-ifaddr-refresh-all "$e" ;;
	*) fail nft-ifaddr-refresh-all "'$e'" ;; esac
	want nft-ifaddr-refresh-new-eth0-address-via-lan0 "$PEER" 192.168.1.4 connected
	want nft-ifaddr-refresh-cve-probe "$ISP" 10.64.0.4 timeout
	want nft-ifaddr-refresh-cve-probe-lan0 "$PEER" 10.64.0.4 timeout
	kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
else
	fail nft-ifaddr-refresh "no helper at $REFRESH (run make)"
fi
nsx "$HOST" "$IFWALL" flush >/dev/null 2>&1

# --- divert: the same verdicts ----------------------------------------------------
nsx "$HOST" "$IFWALL" run --backend divert ks.rules 2>divert.err &
DPID=$!
for i in $(seq 100); do grep -qs 'ready$' divert.err && break; sleep 0.05; done
if grep -qs 'ready$' divert.err; then
	want divert-ifaddr-peer-to-eth0-address "$PEER" 192.168.1.2 connected
	want divert-ifaddr-peer-to-new-eth0-address "$PEER" 192.168.1.4 connected
	want divert-ifaddr-cve-probe-eth0 "$ISP" 10.64.0.4 timeout
else
	fail divert-ifaddr "divert did not start: $(head -3 divert.err | tr '\n' ' ')"
fi
kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null
nsx "$HOST" "$IFWALL" flush >/dev/null 2>&1
exit 0
