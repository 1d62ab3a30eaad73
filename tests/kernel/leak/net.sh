# The leak suite's test network (sourced by tests/kernel/leak/t_leak.sh).
#
#   ifwleak-ctr            ifwleak-cli                 ifwleak-isp          ifwleak-srv
#   container  eth0 --- ctr0  client  eth0 ------- isp0  ISP router  up0 --- eth0  VPN server
#   10.99.0.2       10.99.0.1         192.168.1.2  192.168.1.1        .1    198.51.100.7
#                                     2001:db8:1::2  2001:db8:1::1          :51820 (WireGuard)
#                         ifwleak0 10.64.0.2 ==== WireGuard over eth0 ==== ifwleak1 10.64.0.1
#                         (really ifwl<pid>c and ifwl<pid>s: see RUN_ID below)
#
# The server also plays "the internet" (on its lo: 203.0.113.80 and
# 198.18.0.80 run TCP/UDP echo, 9.9.9.9 a public resolver, 192.168.50.53 a
# LAN-style resolver behind the tunnel; 10.64.0.1 is the tunnel resolver).
# The ISP router routes the client's clear traffic there too (so a leak
# really works, as it would), is the LAN resolver 192.168.1.1 and hosts an
# IPv6-only web host 2001:db8:ffff::80.
#
# The far side of the client's physical link is isp0: whatever the client
# sends in the clear is captured there.

LEAK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3                 # the python3 that has scapy (not pyenv's)
NETPY=$LEAK_DIR/leaknet.py

# Names carry this run's id (its pid), so runs of make check in several
# worktrees at once do not meet: namespace names and wireguard-go's control
# sockets (/var/run/wireguard/NAME.sock) are global.
RUN_ID=${RUN_ID:-$$}
NS_CLI=ifwleak-$RUN_ID-cli NS_ISP=ifwleak-$RUN_ID-isp NS_SRV=ifwleak-$RUN_ID-srv NS_CTR=ifwleak-$RUN_ID-ctr
TUN=ifwl${RUN_ID}c TUN_SRV=ifwl${RUN_ID}s   # ifwleak0 / ifwleak1 in the rule files
CLI_ADDR=192.168.1.2 GW=192.168.1.1 CLI_ADDR6=2001:db8:1::2 GW6=2001:db8:1::1
ENDPOINT=198.51.100.7 EP_PORT=51820 WG_SPORT=51821 WG_MARK=0xca6c
TUN_ADDR=10.64.0.2 TUN_PEER=10.64.0.1
WEB=203.0.113.80 WEB2=198.18.0.80 WEB6=2001:db8:ffff::80
PUB_DNS=9.9.9.9 TUN_LAN_DNS=192.168.50.53 LAN_DNS=$GW
CTR_ADDR=10.99.0.2

NET_PIDS=()          # every background process this suite started
WG_CLI_PID=

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Start a background process inside a namespace, remembered for teardown.
# ip netns exec execs the command, so $! is the command's own pid.
bg_in() {
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	NET_PIDS+=($!)
	LAST_PID=$!
}

source "$LEAK_DIR/../../common.sh"   # wait_for SECONDS COMMAND...

net_teardown() {
	local pid ns
	for pid in "${NET_PIDS[@]+"${NET_PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for pid in "${NET_PIDS[@]+"${NET_PIDS[@]}"}"; do wait "$pid" 2>/dev/null; done
	NET_PIDS=()
	for ns in $NS_CLI $NS_ISP $NS_SRV $NS_CTR; do
		[ -e /var/run/netns/$ns ] && net_delete_ns $ns
	done
	rm -f /var/run/wireguard/$TUN.sock /var/run/wireguard/$TUN_SRV.sock
}

net_delete_ns() {   # a namespace of this suite: its processes, then itself
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	ip netns del "$1" 2>/dev/null
}

# Namespaces of earlier runs of this suite that were killed before their
# trap ran (their run's pid is gone).
net_reap_stale() {
	local ns id
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ifwleak-[0-9]*-'); do
		id=${ns#ifwleak-}; id=${id%%-*}
		kill -0 "$id" 2>/dev/null || net_delete_ns "$ns"
	done
}

# The client's WireGuard tunnel, as a VPN client sets it up: wireguard-go,
# keys, address, a default route through the tunnel (metric 10) above the
# ISP's (metric 100), the endpoint routed via the physical gateway.
wg_client_up() {
	bg_in $NS_CLI "$WORK/wg-cli.log" wireguard-go -f $TUN
	WG_CLI_PID=$LAST_PID
	wait_for 20 test -S /var/run/wireguard/$TUN.sock || return 1
	nsx $NS_CLI wg set $TUN private-key "$WORK/cli.key" listen-port $WG_SPORT \
		fwmark $WG_MARK peer "$(cat "$WORK/srv.pub")" \
		endpoint $ENDPOINT:$EP_PORT allowed-ips 0.0.0.0/0 || return 1
	ip -n $NS_CLI addr add $TUN_ADDR/32 peer $TUN_PEER/32 dev $TUN &&
	ip -n $NS_CLI link set $TUN up &&
	ip -n $NS_CLI route add default dev $TUN metric 10
}

# Kill the VPN process as a crash would: the tunnel device and its routes go
# away, the ISP's default route takes over.
wg_client_kill() {
	kill "$WG_CLI_PID" 2>/dev/null
	wait "$WG_CLI_PID" 2>/dev/null
	wait_for 20 eval "! ip -n $NS_CLI link show $TUN >/dev/null 2>&1"
}

net_setup() {
	local ns
	net_reap_stale
	for ns in $NS_CLI $NS_ISP $NS_SRV $NS_CTR; do
		ip netns add $ns || return 1
		ip -n $ns link set lo up
		# no DAD wait, no router solicitations: quiet, ready at once
		nsx $ns sysctl -qw net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.router_solicitations=0
	done

	# client <-> ISP: the physical link (IPv4 LAN + a global IPv6 prefix)
	ip link add eth0 netns $NS_CLI type veth peer name isp0 netns $NS_ISP || return 1
	ip -n $NS_CLI addr add $CLI_ADDR/24 dev eth0
	ip -n $NS_CLI addr add $CLI_ADDR6/64 dev eth0 nodad
	ip -n $NS_ISP addr add $GW/24 dev isp0
	ip -n $NS_ISP addr add $GW6/64 dev isp0 nodad
	ip -n $NS_CLI link set eth0 up
	ip -n $NS_ISP link set isp0 up
	CLI_MAC=$(nsx $NS_CLI cat /sys/class/net/eth0/address)

	# ISP <-> VPN server ("the internet")
	ip link add up0 netns $NS_ISP type veth peer name eth0 netns $NS_SRV || return 1
	ip -n $NS_ISP addr add 198.51.100.1/24 dev up0
	ip -n $NS_SRV addr add $ENDPOINT/24 dev eth0
	ip -n $NS_ISP link set up0 up
	ip -n $NS_SRV link set eth0 up
	nsx $NS_ISP sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n $NS_ISP route add default via $ENDPOINT
	ip -n $NS_ISP addr add $WEB6/128 dev lo
	ip -n $NS_SRV route add default via 198.51.100.1
	for a in $WEB $WEB2 $PUB_DNS $TUN_LAN_DNS; do ip -n $NS_SRV addr add $a/32 dev lo; done

	# client's ISP routes: IPv4 default (metric 100, under the tunnel's),
	# the VPN endpoint via the gateway, IPv6 default via the ISP
	ip -n $NS_CLI route add default via $GW dev eth0 metric 100
	ip -n $NS_CLI route add $ENDPOINT/32 via $GW dev eth0
	ip -n $NS_CLI -6 route add default via $GW6 dev eth0

	# container behind the client, forwarded by the client
	ip link add ctr0 netns $NS_CLI type veth peer name eth0 netns $NS_CTR || return 1
	ip -n $NS_CLI addr add 10.99.0.1/24 dev ctr0
	ip -n $NS_CTR addr add $CTR_ADDR/24 dev eth0
	ip -n $NS_CLI link set ctr0 up
	ip -n $NS_CTR link set eth0 up
	ip -n $NS_CTR route add default via 10.99.0.1
	nsx $NS_CLI sysctl -qw net.ipv4.ip_forward=1
	# an unprotected client answers the CVE-2019-14899 SYN once, without
	# retransmitting its SYN-ACK into the scenarios that follow
	nsx $NS_CLI sysctl -qw net.ipv4.tcp_synack_retries=0

	# WireGuard: server side, then the client
	(umask 077; wg genkey >"$WORK/cli.key" && wg genkey >"$WORK/srv.key") || return 1
	wg pubkey <"$WORK/cli.key" >"$WORK/cli.pub" && wg pubkey <"$WORK/srv.key" >"$WORK/srv.pub" || return 1
	bg_in $NS_SRV "$WORK/wg-srv.log" wireguard-go -f $TUN_SRV
	wait_for 20 test -S /var/run/wireguard/$TUN_SRV.sock || return 1
	nsx $NS_SRV wg set $TUN_SRV private-key "$WORK/srv.key" listen-port $EP_PORT \
		peer "$(cat "$WORK/cli.pub")" allowed-ips $TUN_ADDR/32,10.99.0.0/24 || return 1
	ip -n $NS_SRV addr add $TUN_PEER/24 dev $TUN_SRV
	ip -n $NS_SRV link set $TUN_SRV up
	ip -n $NS_SRV route add 10.99.0.0/24 dev $TUN_SRV
	wg_client_up || return 1

	# services (UDP bound per address, so replies come from the address asked)
	bg_in $NS_SRV "$WORK/srv-serve.out" $PY "$NETPY" serve --log "$WORK/dns.log" \
		tcp,0.0.0.0,8080 udp,$WEB,7777 udp,$WEB2,7777 udp,$ENDPOINT,7777 \
		dns,$TUN_PEER dns,$PUB_DNS dns,$TUN_LAN_DNS
	bg_in $NS_ISP "$WORK/isp-serve.out" $PY "$NETPY" serve --log "$WORK/dns.log" \
		tcp,::,8080 udp,$WEB6,7777 udp,$GW,7777 dns,$LAN_DNS
	bg_in $NS_CLI "$WORK/cli-serve.out" $PY "$NETPY" serve tcp,0.0.0.0,8080
	wait_for 20 grep -qs ready "$WORK/srv-serve.out" &&
	wait_for 20 grep -qs ready "$WORK/isp-serve.out" &&
	wait_for 20 grep -qs ready "$WORK/cli-serve.out" || return 1

	# neighbours on the link known (first-contact ND is not what is tested)
	wait_for 20 eval "nsx $NS_CLI $PY \"$NETPY\" probe --timeout 0.5 ping,$GW ping,$GW6 >/dev/null"
	# the tunnel must be up before any scenario: first handshake
	wait_for 20 eval "nsx $NS_CLI $PY \"$NETPY\" probe --timeout 0.5 ping,$TUN_PEER >/dev/null"
}

# ---------------------------------------------------------------- captures
#
# Two captures per scenario: the far side of the client's physical link
# (what really left, Ethernet), and `tcpdump -i any` inside the client (SLL2,
# every interface, for ifwall replay).

cap_start() {   # cap_start NAME
	CAP=$WORK/$1
	rm -f "$CAP"-far.pcap "$CAP"-cli.pcap
	bg_in $NS_ISP "$CAP-far.err" tcpdump -Z root -i isp0 -n -s 0 --immediate-mode -U -w "$CAP-far.pcap"
	CAP_FAR_PID=$LAST_PID
	bg_in $NS_CLI "$CAP-cli.err" tcpdump -Z root -i any -y LINUX_SLL2 -n -s 0 --immediate-mode -U -w "$CAP-cli.pcap"
	CAP_CLI_PID=$LAST_PID
	wait_for 20 grep -qs 'listening on' "$CAP-far.err" &&
	wait_for 20 grep -qs 'listening on' "$CAP-cli.err"
}

cap_stop() {
	sleep 0.3       # a window for late packets (retransmissions, replies) that must not come
	kill -INT $CAP_FAR_PID $CAP_CLI_PID 2>/dev/null
	wait $CAP_FAR_PID $CAP_CLI_PID 2>/dev/null
}

# Packets the client sent in the clear on its physical link, other than the
# tunnel itself (udp 192.168.1.2:51821 <-> 198.51.100.7:51820) and link-local
# neighbour discovery: one line per flow, "PROTO SRC SPORT DST DPORT PACKETS".
cap_leaks() {
	$PY "$NETPY" leaks "$CAP-far.pcap" --mac "$CLI_MAC" --allow udp,$ENDPOINT,$EP_PORT,$WG_SPORT
}

# Every flow the client sent on its physical link (tunnel included).
cap_far_flows() {
	$PY "$NETPY" flows "$CAP-far.pcap" --mac "$CLI_MAC"
}

# IDX=NAME of the client's interfaces, for replay --ifmap. Indexes of
# interfaces that went away (a tunnel re-created) are kept.
declare -A IFMAP_NAMES=()
ifmap_update() {
	local idx name
	while read -r idx name; do IFMAP_NAMES[$idx]=$name; done < <(
		ip -n $NS_CLI -o link show | sed -E 's/^([0-9]+): ([^:@]+).*/\1 \2/')
	IFMAP=
	for idx in "${!IFMAP_NAMES[@]}"; do IFMAP+=${IFMAP:+,}$idx=${IFMAP_NAMES[$idx]}; done
}
