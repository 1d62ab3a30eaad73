#!/usr/bin/env bash
# A kill switch whose WireGuard endpoint is reached over IPv6 through a
# router behind a link-local gateway (issue 11 item 3, issue 12 item 4):
# neighbour discovery to the host's global address must pass, or the
# router can never deliver the server's answers. Under nft (load) and
# divert (run --backend divert), with the neighbour caches flushed after
# the rules are in, so every neighbour entry is learnt under the kill
# switch.
#
#   cli: eth0 2001:db8:1::2/64 -- rtr: lan0 fe80::1, 2001:db8:1::1/64
#                                   rtr: wan0 2001:db8:2::1/64 -- srv: eth0 2001:db8:2::7/64
#   cli wgc 10.77.0.2 ===== WireGuard [2001:db8:2::7]:51820 ===== srv wgs 10.77.0.1
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
[ "$(id -u)" -eq 0 ] || { echo "SKIP ipv6-endpoint: needs root"; exit 0; }
ID=$$
CLI=ifwks6-$ID-cli RTR=ifwks6-$ID-rtr SRV=ifwks6-$ID-srv
WGC=ifwk${ID}c WGS=ifwk${ID}s
T=$(mktemp -d /tmp/ifw-ks6.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
	for n in $CLI $RTR $SRV; do
		for p in $(ip netns pids $n 2>/dev/null); do kill $p 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	rm -f /var/run/wireguard/$WGC.sock /var/run/wireguard/$WGS.sock
	rm -rf "$T"
}
trap cleanup EXIT
TEST_PREFIX="ipv6-endpoint: "
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
wait_for() { local tries=$1; shift; while [ "$tries" -gt 0 ]; do "$@" && return 0; sleep 0.05; tries=$((tries - 1)); done; return 1; }

for n in $CLI $RTR $SRV; do ip netns add $n || exit 1; nsx $n ip link set lo up; done
ip link add c$ID type veth peer name r$ID || exit 1
ip link set c$ID netns $CLI; ip link set r$ID netns $RTR
ip link add s$ID type veth peer name w$ID || exit 1
ip link set s$ID netns $SRV; ip link set w$ID netns $RTR
nsx $CLI ip link set c$ID name eth0
nsx $RTR ip link set r$ID name lan0
nsx $RTR ip link set w$ID name wan0
nsx $SRV ip link set s$ID name eth0
for n in $CLI $RTR $SRV; do
	nsx $n sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
done
nsx $RTR sysctl -qw net.ipv6.conf.all.forwarding=1
nsx $CLI ip addr add 2001:db8:1::2/64 dev eth0 nodad
nsx $RTR ip addr add fe80::1/64 dev lan0 nodad
nsx $RTR ip addr add 2001:db8:1::1/64 dev lan0 nodad
nsx $RTR ip addr add 2001:db8:2::1/64 dev wan0 nodad
nsx $SRV ip addr add 2001:db8:2::7/64 dev eth0 nodad
for l in "$CLI eth0" "$RTR lan0" "$RTR wan0" "$SRV eth0"; do set -- $l; nsx $1 ip link set $2 up; done
nsx $CLI ip -6 route add default via fe80::1 dev eth0
nsx $SRV ip -6 route add default via 2001:db8:2::1 dev eth0

(umask 077; wg genkey >"$T/c.key"; wg genkey >"$T/s.key")
wg pubkey <"$T/c.key" >"$T/c.pub"; wg pubkey <"$T/s.key" >"$T/s.pub"
for side in "$CLI $WGC c 10.77.0.2 s" "$SRV $WGS s 10.77.0.1 c"; do
	set -- $side
	nsx $1 wireguard-go -f $2 >"$T/wg-$3.log" 2>&1 &
	PIDS+=($!)
	wait_for 100 test -S /var/run/wireguard/$2.sock || { fail "wireguard-go $2 did not start"; exit 1; }
done
nsx $SRV wg set $WGS private-key "$T/s.key" listen-port 51820 peer "$(cat "$T/c.pub")" allowed-ips 10.77.0.2/32
nsx $CLI wg set $WGC private-key "$T/c.key" peer "$(cat "$T/s.pub")" allowed-ips 0.0.0.0/0 \
	endpoint "[2001:db8:2::7]:51820"
nsx $SRV ip addr add 10.77.0.1/24 dev $WGS; nsx $SRV ip link set $WGS up
nsx $CLI ip addr add 10.77.0.2/24 dev $WGC; nsx $CLI ip link set $WGC up

cat >"$T/ks.rules" <<R
killswitch {
    tunnel $WGC
    endpoint 2001:db8:2::7 port 51820 proto udp
}
R
chmod 0644 "$T/ks.rules"

# The tunnel carries pings after the rules are in and every neighbour
# entry was forgotten (so ND ran under the kill switch).
tunnel_works() {
	local what=$1
	for n in "$CLI eth0" "$RTR lan0" "$RTR wan0" "$SRV eth0"; do set -- $n; nsx $1 ip -6 neigh flush dev $2; done
	if nsx $CLI ping -c 3 -i 0.3 -W 2 -q 10.77.0.1 >"$T/ping.out" 2>&1 ||
	   nsx $CLI ping -c 3 -i 0.3 -W 2 -q 10.77.0.1 >"$T/ping.out" 2>&1; then
		pass "$what: tunnel over an IPv6 endpoint through a router works"
	else
		fail "$what: no answer through the tunnel: $(tail -2 "$T/ping.out" | tr '\n' ' ')"
	fi
	# ... and nothing else leaves outside it (without a firewall it does:
	# the probe can see a leak).
	local want=blocked got=blocked
	[ "$what" = "no firewall" ] && want=answered
	nsx $CLI ping -6 -c 1 -W 1 -q 2001:db8:2::1 >/dev/null 2>&1 && got=answered
	if [ "$got" = "$want" ]; then pass "$what: a ping outside the tunnel is $got"
	else fail "$what: a ping outside the tunnel is $got, want $want"; fi
}

# Without a firewall (the test can see a working tunnel at all).
tunnel_works "no firewall"

# nft
if nsx $CLI "$IFWALL" load "$T/ks.rules" 2>"$T/load.err"; then
	tunnel_works "nft"
	nsx $CLI "$IFWALL" flush 2>/dev/null
else
	fail "nft: load failed: $(head -3 "$T/load.err")"
fi

# divert
nsx $CLI "$IFWALL" run --backend divert "$T/ks.rules" 2>"$T/divert.err" &
DPID=$!
PIDS+=($DPID)
if wait_for 200 grep -q 'ready$' "$T/divert.err"; then
	tunnel_works "divert"
else
	fail "divert: not ready: $(head -3 "$T/divert.err")"
fi
kill $DPID 2>/dev/null; wait $DPID 2>/dev/null
nsx $CLI "$IFWALL" flush 2>/dev/null
exit $((FAILED > 0))
