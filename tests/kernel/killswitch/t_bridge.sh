#!/usr/bin/env bash
# 'allow bridge' with a Linux bridge, a guest namespace behind it and a real
# dnsmasq serving DHCP and DNS on the bridge, as libvirt and Docker set it
# up (issue 14 item 3): the guest gets a lease, resolves through dnsmasq,
# reaches the far side through the tunnel, and nothing it sends leaves the
# host's physical interface (counted on a capture at the far side of that
# link). First without a firewall, where the same probes must leak (so the
# count can fail), then with the kill switch under nft and divert.
#
#   guest eth0 (DHCP) -- br0 10.88.0.1 [host] eth0 192.168.1.2 -- isp0 192.168.1.1 [isp] up0 -- srv 198.51.100.7
#   host wg 10.66.0.2 ===== WireGuard 198.51.100.7:51820 ===== srv wg 10.66.0.1; srv lo 203.0.113.80:8080
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
[ "$(id -u)" -eq 0 ] || { echo "SKIP bridge: needs root"; exit 0; }
for t in dnsmasq busybox wireguard-go wg tcpdump nft; do
	command -v $t >/dev/null || { echo "FAIL bridge: $t not installed (tests/deps.sh)"; exit 1; }
done
ID=$$
HOST=ifwbr-$ID-host ISP=ifwbr-$ID-isp SRV=ifwbr-$ID-srv GUEST=ifwbr-$ID-guest
WGH=ifwb${ID}h WGS=ifwb${ID}s
T=$(mktemp -d /tmp/ifw-bridge.XXXXXX)
chmod 0755 "$T"
PIDS=()
cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
	for n in $HOST $ISP $SRV $GUEST; do
		for p in $(ip netns pids $n 2>/dev/null); do kill $p 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	rm -f /var/run/wireguard/$WGH.sock /var/run/wireguard/$WGS.sock
	rm -rf "/etc/netns/$GUEST" "$T"
}
trap cleanup EXIT
TEST_PREFIX="bridge: "
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
bg() { local n=$1 log=$2; shift 2; ip netns exec "$n" "$@" >"$log" 2>&1 & PIDS+=($!); LAST=$!; }
# FETCH TIMEOUT: the far side's page (busybox wget crashes here)
fetch() {
	nsx "$1" /usr/bin/python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://203.0.113.80:8080/", timeout=float(sys.argv[1])).read().decode())' "$2"
}
wait_for() { local tries=$1; shift; while [ "$tries" -gt 0 ]; do "$@" && return 0; sleep 0.05; tries=$((tries - 1)); done; return 1; }

setup() {
	for n in $HOST $ISP $SRV $GUEST; do
		ip netns add $n || return 1
		nsx $n ip link set lo up
		nsx $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add eth0 netns $HOST type veth peer name isp0 netns $ISP || return 1
	ip link add up0 netns $ISP type veth peer name eth0 netns $SRV || return 1
	ip link add vg$ID netns $HOST type veth peer name eth0 netns $GUEST || return 1
	ip -n $HOST addr add 192.168.1.2/24 dev eth0
	ip -n $ISP addr add 192.168.1.1/24 dev isp0
	ip -n $ISP addr add 198.51.100.1/24 dev up0
	ip -n $SRV addr add 198.51.100.7/24 dev eth0
	ip -n $SRV addr add 203.0.113.80/32 dev lo
	for l in "$HOST eth0" "$ISP isp0" "$ISP up0" "$SRV eth0" "$GUEST eth0"; do set -- $l; ip -n $1 link set $2 up; done
	nsx $ISP sysctl -qw net.ipv4.ip_forward=1
	nsx $HOST sysctl -qw net.ipv4.ip_forward=1
	ip -n $ISP route add default via 198.51.100.7
	ip -n $SRV route add default via 198.51.100.1
	# the bridge, as libvirt's virbr0 or Docker's docker0
	ip -n $HOST link add br0 type bridge || return 1
	ip -n $HOST link set vg$ID master br0
	ip -n $HOST addr add 10.88.0.1/24 dev br0
	ip -n $HOST link set br0 up
	ip -n $HOST link set vg$ID up
	# the host's routes before the VPN: default via the ISP
	ip -n $HOST route add default via 192.168.1.1 dev eth0 metric 100
	ip -n $HOST route add 198.51.100.7/32 via 192.168.1.1 dev eth0
	# WireGuard between host and server
	(umask 077; wg genkey >"$T/h.key"; wg genkey >"$T/s.key")
	wg pubkey <"$T/h.key" >"$T/h.pub"; wg pubkey <"$T/s.key" >"$T/s.pub"
	bg $SRV "$T/wgs.log" wireguard-go -f $WGS
	wait_for 100 test -S /var/run/wireguard/$WGS.sock || return 1
	bg $HOST "$T/wgh.log" wireguard-go -f $WGH
	wait_for 100 test -S /var/run/wireguard/$WGH.sock || return 1
	nsx $SRV wg set $WGS private-key "$T/s.key" listen-port 51820 peer "$(cat "$T/h.pub")" allowed-ips 10.66.0.2/32
	nsx $HOST wg set $WGH private-key "$T/h.key" fwmark 0xca6c peer "$(cat "$T/s.pub")" \
		endpoint 198.51.100.7:51820 allowed-ips 0.0.0.0/0
	ip -n $SRV addr add 10.66.0.1/24 dev $WGS; ip -n $SRV link set $WGS up
	ip -n $HOST addr add 10.66.0.2/32 peer 10.66.0.1/32 dev $WGH; ip -n $HOST link set $WGH up
	ip -n $HOST route add default dev $WGH metric 10
	# the guests' traffic is masqueraded into the tunnel, as Docker and
	# libvirt masquerade it (a NAT table of the test, not ifwall's)
	nsx $HOST nft -f - <<NFT || return 1
table ip ifwbrtest_nat {
	chain post { type nat hook postrouting priority srcnat; oifname "$WGH" masquerade; }
}
NFT
	# the far side: a web server and the server answers pings
	bg $SRV "$T/http.log" busybox httpd -f -p 203.0.113.80:8080 -h "$T"
	echo far-side-ok >"$T/index.html"; chmod 0644 "$T/index.html"
	# dnsmasq on the bridge: DHCP and DNS (far.test is the far side)
	bg $HOST "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --interface=br0 \
		--bind-interfaces --except-interface=lo --dhcp-range=10.88.0.50,10.88.0.99,1h \
		--dhcp-leasefile="$T/leases" --no-resolv --no-hosts --address=/far.test/203.0.113.80 \
		--pid-file="$T/dnsmasq.pid" --user=root
	wait_for 100 eval "nsx $HOST ss -lun | grep -q '10.88.0.1:53'" || return 1
	# the guest's DHCP client configures its address and default route
	cat >"$T/udhcpc.sh" <<'SH'
#!/bin/sh
case $1 in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	echo "$ip" >"$LEASE_FILE" ;;
esac
SH
	chmod 0755 "$T/udhcpc.sh"
	return 0
}

# The far side's capture: every packet on isp0, the host's physical link.
cap_start() {
	rm -f "$T/far.pcap"
	bg $ISP "$T/tcpdump.log" tcpdump --immediate-mode -U -n -i isp0 -w "$T/far.pcap" 'ip'
	CAP_PID=$LAST
	wait_for 100 grep -qs "listening on" "$T/tcpdump.log"
}
cap_stop() { sleep 0.3; kill "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; }
# Packets on the physical link other than the tunnel's own UDP.
cap_leaks() {
	tcpdump -n -r "$T/far.pcap" 'ip and not (udp and host 192.168.1.2 and host 198.51.100.7 and port 51820)' 2>/dev/null | wc -l
}

# What leaked, by kind: "icmp 2, udp 1, tcp 3"
cap_kinds() {
	tcpdump -n -r "$T/far.pcap" 'ip and not (udp and host 192.168.1.2 and host 198.51.100.7 and port 51820)' 2>/dev/null |
		awk '{k = ($0 ~ /ICMP/) ? "icmp" : ($0 ~ /UDP/) ? "udp" : "tcp"; n[k]++} END {for (k in n) {printf "%s%s %d", s, k, n[k]; s = ", "}}'
}

guest_dhcp() {
	rm -f "$T/lease"
	nsx $GUEST ip addr flush dev eth0
	LEASE_FILE="$T/lease" nsx $GUEST env LEASE_FILE="$T/lease" busybox udhcpc -i eth0 -s "$T/udhcpc.sh" \
		-n -q -t 5 -T 1 >"$T/udhcpc.log" 2>&1
	[ -s "$T/lease" ]
}

# run_case MODE: MODE nofw (the probes must leak) or a backend name
run_case() {
	local mode=$1
	cap_start || { fail "$mode: tcpdump did not start"; return; }
	if guest_dhcp; then pass "$mode: the guest got a lease from dnsmasq ($(cat "$T/lease"))"
	else fail "$mode: no DHCP lease: $(tail -3 "$T/udhcpc.log" | tr '\n' ' ')"; fi
	if nsx $GUEST busybox nslookup far.test 10.88.0.1 2>&1 | grep -q 203.0.113.80; then
		pass "$mode: the guest resolves through dnsmasq on the bridge"
	else fail "$mode: no DNS answer from dnsmasq"; fi
	# wait for the tunnel's first handshake, then through it
	wait_for 40 eval "nsx $HOST ping -c 1 -W 1 -q 10.66.0.1 >/dev/null 2>&1"
	if fetch $GUEST 3 2>/dev/null | grep -q far-side-ok; then
		pass "$mode: the guest reaches the far side through the tunnel"
	else fail "$mode: the guest cannot reach the far side"; fi
	# leak attempts: the LAN gateway (on the host's physical link), the
	# endpoint's address and port (a forwarded packet has no fwmark), and
	# a route pushed via the LAN gateway (TunnelVision, on the host)
	nsx $GUEST ping -c 2 -i 0.2 -W 1 -q 192.168.1.1 >/dev/null 2>&1
	nsx $GUEST /usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2): s.sendto(b"x", ("198.51.100.7", 51820))'
	ip -n $HOST route add 203.0.113.0/24 via 192.168.1.1 dev eth0
	fetch $GUEST 2 >/dev/null 2>&1
	ip -n $HOST route del 203.0.113.0/24 via 192.168.1.1 dev eth0
	cap_stop
	local n; n=$(cap_leaks)
	if [ "$mode" = nofw ]; then
		[ "$n" -gt 0 ] && pass "nofw: without a firewall the guest's probes leak ($n packets: $(cap_kinds))" \
			|| fail "nofw: no leak seen without a firewall: the count is blind"
	else
		[ "$n" -eq 0 ] && pass "$mode: 0 packets leaked on the physical link" \
			|| fail "$mode: $n packets leaked: $(tcpdump -n -r "$T/far.pcap" 'ip and not (udp and host 192.168.1.2 and host 198.51.100.7 and port 51820)' 2>/dev/null | head -5 | tr '\n' ';')"
	fi
}

if ! setup >"$T/setup.log" 2>&1; then
	fail "setup: $(tail -5 "$T/setup.log" | tr '\n' ' ')"; exit 1
fi
cat >"$T/ks.rules" <<R
killswitch {
    tunnel $WGH
    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c
    allow bridge br0
}
R
chmod 0644 "$T/ks.rules"

run_case nofw
if nsx $HOST "$IFWALL" load "$T/ks.rules" 2>"$T/load.err"; then
	run_case nft
	nsx $HOST "$IFWALL" flush
else
	fail "nft: load failed: $(head -3 "$T/load.err")"
fi
bg $HOST "$T/divert.err" "$IFWALL" run --backend divert "$T/ks.rules"
DPID=$LAST
if wait_for 200 grep -qs 'ready$' "$T/divert.err"; then
	run_case divert
else
	fail "divert: not ready: $(head -3 "$T/divert.err")"
fi
kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null
nsx $HOST "$IFWALL" flush 2>/dev/null
exit $((FAILED > 0))
