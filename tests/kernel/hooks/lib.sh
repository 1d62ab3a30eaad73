# The VPN hook tests' network (sourced by tests/kernel/hooks/t_*.sh).
#
#   $NS_CLI                 $NS_ISP                      $NS_A / $NS_B
#   client  eth0 -------- isp0  ISP router  up0 ------- eth0 VPN server A 198.51.100.7
#   192.168.1.2           192.168.1.1       up1 ------- eth0 VPN server B 203.0.113.7
#   2001:db8:1::2         2001:db8:1::1
#                         lo: 192.0.2.80, 2001:db8:ffff::80 ("the internet")
#
# Each server has the tunnel address 10.64.0.1 (fd00:64::1) and serves TCP
# on port 7000 there: it answers with its name ("srvA", "srvB") and then
# echoes. The far side of the client's physical link is isp0: tcpdump runs
# there for the whole test, and every packet the client sent in the clear is
# judged against the endpoint table of its moment (leaks_between below).
#
# Names carry the run's pid (namespaces, interfaces and wireguard-go's
# control sockets under /var/run/wireguard are global).
set -u
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
source "$TOP/tests/common.sh"   # pass, fail, skip, check
IFWALL=${IFWALL:-$TOP/build/ifwall}
HOOKS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
RUN_ID=$$
NS_CLI=ifwhk-$RUN_ID-cli NS_ISP=ifwhk-$RUN_ID-isp NS_A=ifwhk-$RUN_ID-a NS_B=ifwhk-$RUN_ID-b
CLI4=192.168.1.2 CLI6=2001:db8:1::2 SRV_A=198.51.100.7 SRV_B=203.0.113.7
WEB4=192.0.2.80 WEB6=2001:db8:ffff::80
umask 077
WORK=$(mktemp -d /tmp/ifwhk.XXXXXX)
chmod 755 "$WORK"
BG_PIDS=()
export IFWALL PATH="$TOP/tools/hooks:$PATH"
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
now() { date +%s.%N; }

wait_for() {   # wait_for TRIES COMMAND...: every 50 ms
	local tries=$1; shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

bg_in() {      # bg_in NS LOG COMMAND...: remembered for teardown
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	BG_PIDS+=($!)
	LAST_PID=$!
}

hooks_teardown() {
	local pid ns
	for pid in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for pid in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do wait "$pid" 2>/dev/null; done
	for ns in $NS_CLI $NS_ISP $NS_A $NS_B; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	done
	sleep 0.2
	for ns in $NS_CLI $NS_ISP $NS_A $NS_B; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -f /var/run/wireguard/ifw?"$RUN_ID".sock
	if [ -n "${IFWALL_HOOKS_KEEP:-}" ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap hooks_teardown EXIT
trap 'exit 1' INT TERM

need_root_tools() {   # need_root_tools NAME TOOL...
	local what=$1; shift
	[ "$(id -u)" -eq 0 ] || { skip "$what" "needs root (network namespaces)"; exit 0; }
	for t in ip nft tcpdump "$@"; do
		command -v "$t" >/dev/null || { skip "$what" "$t not installed (tests/deps.sh)"; exit 0; }
	done
	[ -c /dev/net/tun ] || { skip "$what" "no /dev/net/tun"; exit 0; }
}

# Stale namespaces of runs killed before their trap.
reap_stale() {
	local ns id
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ifwhk-[0-9]*-'); do
		id=${ns#ifwhk-}; id=${id%%-*}
		kill -0 "$id" 2>/dev/null && continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
}

net_setup() {
	reap_stale
	for ns in $NS_CLI $NS_ISP $NS_A $NS_B; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		nsx "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.router_solicitations=0
	done
	ip link add eth0 netns $NS_CLI type veth peer name isp0 netns $NS_ISP || return 1
	ip -n $NS_CLI addr add $CLI4/24 dev eth0
	ip -n $NS_CLI addr add $CLI6/64 dev eth0 nodad
	ip -n $NS_ISP addr add 192.168.1.1/24 dev isp0
	ip -n $NS_ISP addr add 2001:db8:1::1/64 dev isp0 nodad
	ip -n $NS_CLI link set eth0 up
	ip -n $NS_ISP link set isp0 up
	ip -n $NS_CLI route add default via 192.168.1.1 metric 100
	ip -n $NS_CLI -6 route add default via 2001:db8:1::1 metric 100
	local i=0 ns addr
	for ns in $NS_A $NS_B; do
		addr=$SRV_A; [ $i -eq 1 ] && addr=$SRV_B
		ip link add up$i netns $NS_ISP type veth peer name eth0 netns "$ns" || return 1
		ip -n $NS_ISP addr add "${addr%.*}.1/24" dev up$i
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n $NS_ISP link set up$i up
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "${addr%.*}.1"
		i=$((i + 1))
	done
	nsx $NS_ISP sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n $NS_ISP addr add $WEB4/32 dev lo
	ip -n $NS_ISP addr add $WEB6/128 dev lo
	# the capture at the far side, for the whole test
	bg_in $NS_ISP "$WORK/tcpdump.log" tcpdump -i isp0 -n --immediate-mode -U -w "$WORK/far.pcap" \
		'ip or ip6'
	CAPTURE_PID=$LAST_PID
	wait_for 100 grep -q 'listening on' "$WORK/tcpdump.log" || return 1
	wg genkey >"$WORK/cli.key" && wg pubkey <"$WORK/cli.key" >"$WORK/cli.pub"
	for s in a b; do
		wg genkey >"$WORK/$s.key" && wg pubkey <"$WORK/$s.key" >"$WORK/$s.pub"
	done
	# the tunnel's service on each server
	for s in a b; do
		ns=$NS_A; [ $s = b ] && ns=$NS_B
		bg_in "$ns" "$WORK/echo-$s.log" $PY "$HOOKS_DIR/echo.py" "srv${s^^}" 7000
	done
}

# wg_server S PORT: WireGuard server S (a or b) on PORT, tunnel 10.64.0.1
wg_server() {
	local s=$1 port=$2 ns=$NS_A name=ifwa$RUN_ID
	[ "$s" = b ] && ns=$NS_B name=ifwb$RUN_ID
	bg_in "$ns" "$WORK/wg-$s.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$name"
	wait_for 100 test -S /var/run/wireguard/$name.sock || return 1
	nsx "$ns" wg set "$name" private-key "$WORK/$s.key" listen-port "$port" \
		peer "$(cat "$WORK/cli.pub")" allowed-ips 10.64.0.2/32,fd00:64::2/128 || return 1
	ip -n "$ns" addr add 10.64.0.1/24 dev "$name"
	ip -n "$ns" addr add fd00:64::1/64 dev "$name" nodad
	ip -n "$ns" link set "$name" up
}

# The client's leak probes: every 100 ms, UDP, TCP and ping to the internet
# (v4 and v6) and UDP to both servers' VPN ports. Routed into the tunnel
# when it is up; in the clear otherwise, where only the kill switch stops
# them.
start_probes() {
	bg_in $NS_CLI "$WORK/probes.log" $PY "$HOOKS_DIR/probes.py" $WEB4 $WEB6 $SRV_A $SRV_B "$@"
	PROBES_PID=$LAST_PID
}

# leaks_between T0 T1 ALLOWED...: packets the client sent in the clear
# (source its eth0 address) captured in [T0, T1), other than UDP to an
# ALLOWED "ADDR:PORT", and other than IPv6 neighbour discovery / MLD.
# Prints the count; the offending packets go to $WORK/leaks.txt.
leaks_between() {
	local t0=$1 t1=$2; shift 2
	$PY "$HOOKS_DIR/leaks.py" "$WORK/far.pcap" "$t0" "$t1" "$CLI4" "$CLI6" "$@" \
		2>>"$WORK/leaks.txt"
}

# tunnel_says: the name the server behind the tunnel answers with
tunnel_says() {
	nsx $NS_CLI $PY "$HOOKS_DIR/ask.py" 10.64.0.1 7000 2>/dev/null
}

# last_leaks N: the last N (at most 5) packets leaks_between listed, on one
# line (the file also holds the detector's packets from before the load)
last_leaks() {
	local n=${1:-5}
	[ "$n" -gt 5 ] && n=5
	tail -n "$n" "$WORK/leaks.txt" | tr "\n" ";"
}

# phase TEST NAME T_START T_ACTION_END T_END BEFORE AFTER: 0 leaks while the
# hooks changed the table (BEFORE and AFTER endpoints allowed), then 0 with
# only AFTER allowed. BEFORE/AFTER: "ADDR:PORT" or "".
phase() {
	local test=$1 name=$2 ts=$3 ta=$4 te=$5 before=$6 after=$7 n1 n2
	n1=$(leaks_between "$ts" "$ta" $before $after)
	n2=$(leaks_between "$ta" "$te" $after)
	if [ "$n1" = 0 ] && [ "$n2" = 0 ]; then pass "$test-$name-leaks" "0 leaked packets"
	else fail "$test-$name-leaks" "$n1 during the change, $n2 after it: $(last_leaks $((n1 + n2)))"; fi
}

# blocked TEST T_LOADED: the rules were loaded at T_LOADED with an empty
# endpoint table; waits, then checks that nothing left in the clear. A
# probe sent just before the load returned can reach the far side's capture
# some milliseconds later on a loaded machine, so the window starts 0.25 s
# after the load (a hole in the rules would show all along the 1.25 s that
# follow, not only at their start).
blocked() {
	local test=$1 t0 t1 n
	t0=$(awk -v t="$2" 'BEGIN { printf "%.6f", t + 0.25 }')
	sleep 1.5
	t1=$(now)
	n=$(leaks_between "$t0" "$t1")
	if [ "$n" = 0 ]; then pass "$test-blocked" "0 leaked packets with the endpoint table empty"
	else fail "$test-blocked" "$n leaked packets in the blocked state (load returned at $2): $(last_leaks "$n")"; fi
}

# packets_to T0 T1 ADDR: packets to ADDR on the far-side capture in [T0, T1)
packets_to() {
	$PY - "$WORK/far.pcap" "$1" "$2" "$3" <<'PY'
import sys
from scapy.all import PcapReader, IP, IPv6
n = 0
for p in PcapReader(sys.argv[1]):
    ip = p.getlayer(IP) or p.getlayer(IPv6)
    if ip is not None and float(sys.argv[2]) <= float(p.time) < float(sys.argv[3]) and ip.dst == sys.argv[4]:
        n += 1
print(n)
PY
}

table_is() { [ "$(nsx $NS_CLI "$IFWALL" table vpn_servers show | tr '\n' ' ')" = "$1" ]; }
table_now() { nsx $NS_CLI "$IFWALL" table vpn_servers show | tr '\n' ' '; }
