# Shared by the tun backend tests: a host namespace with two egress
# interfaces, one far end behind each, and an empty client namespace that
# ifwall's ifw0 is put into.
#
#   ifwtun-c (client)  ifw0 100.64.0.2 ==ifwall== ifw1 100.64.0.1  ifwtun-h (host)
#   ifwtun-h: eth0 10.1.0.1/24 -- ifwtun-e (10.1.0.2; 198.51.100.1, 192.0.2.1 on lo)
#             wg0  10.2.0.1/24 -- ifwtun-w (10.2.0.2; 192.0.2.1 on lo)
#   host routes: default via eth0; 192.0.2.0/24 via wg0
# and the same in IPv6: eth0 fd01::1/64 -- fd01::2 (2001:db8:5::1, 2001:db8::1),
# wg0 fd02::1/64 -- fd02::2 (2001:db8::1); 2001:db8::/64 via wg0.
# Both far ends answer as their name: TCP 8080, UDP 5353 (peer.py serve).
# The same address 192.0.2.1 lives behind both, so moving its route moves
# a flow from wg0 to eth0.
# Names carry the PID: other worktrees may run the same tests at once.
NS_C=ifwtun-$$-c NS_H=ifwtun-$$-h NS_E=ifwtun-$$-e NS_W=ifwtun-$$-w
PEER=$TOP/tests/kernel/tun/peer.py
source "$TOP/tests/common.sh"   # pass, fail, skip, wait_for
PY=/usr/bin/python3
TUNLOG=$(mktemp -d /tmp/ifwtun.XXXXXX)
IFW_PID=

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# expect NAME WANT CMD...: runs CMD, compares its first output line
# (trailing blanks removed).
expect() {
	local name=$1 want=$2 got; shift 2
	got=$("$@" 2>&1 | head -1 | sed 's/[[:space:]]*$//')
	if [ "$got" = "$want" ]; then pass "$name"; else fail "$name" "got '$got', want '$want'"; fi
}

require_root() {
	if [ "$(id -u)" -ne 0 ]; then skip "$1" "needs root"; exit 0; fi
	if [ ! -c /dev/net/tun ]; then skip "$1" "no /dev/net/tun"; exit 0; fi
	if ! ip netns add ifwtun-$$-probe 2>/dev/null; then skip "$1" "cannot create network namespaces"; exit 0; fi
	ip netns del ifwtun-$$-probe
}

stop_ifwall() {
	if [ -n "$IFW_PID" ] && kill -0 "$IFW_PID" 2>/dev/null; then
		kill -TERM "$IFW_PID"; wait "$IFW_PID" 2>/dev/null
	fi
	IFW_PID=
}

cleanup() {
	stop_ifwall
	for ns in $NS_C $NS_H $NS_E $NS_W; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TUNLOG"
}

topology() {
	cleanup 2>/dev/null
	TUNLOG=$(mktemp -d /tmp/ifwtun.XXXXXX)
	for ns in $NS_C $NS_H $NS_E $NS_W; do
		ip netns add "$ns" && in_ns "$ns" ip link set lo up || return 1
		# No duplicate address detection: link-local addresses stay
		# tentative for a second otherwise, and so would neighbour
		# discovery behind the first IPv6 packets.
		in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	ip link add eth0 netns $NS_H type veth peer name eth0 netns $NS_E || return 1
	ip link add wg0 netns $NS_H type veth peer name eth0 netns $NS_W || return 1
	in_ns $NS_H ip addr add 10.1.0.1/24 dev eth0
	in_ns $NS_H ip addr add 10.2.0.1/24 dev wg0
	in_ns $NS_H ip addr add fd01::1/64 dev eth0 nodad
	in_ns $NS_H ip addr add fd02::1/64 dev wg0 nodad
	in_ns $NS_H ip link set eth0 up
	in_ns $NS_H ip link set wg0 up
	in_ns $NS_H ip route add default via 10.1.0.2 dev eth0
	in_ns $NS_H ip route add 192.0.2.0/24 via 10.2.0.2 dev wg0
	in_ns $NS_H ip -6 route add default via fd01::2 dev eth0
	in_ns $NS_H ip -6 route add 2001:db8::/64 via fd02::2 dev wg0
	in_ns $NS_E ip addr add 10.1.0.2/24 dev eth0
	in_ns $NS_E ip addr add 198.51.100.1/32 dev lo
	in_ns $NS_E ip addr add 192.0.2.1/32 dev lo
	in_ns $NS_E ip addr add fd01::2/64 dev eth0 nodad
	in_ns $NS_E ip addr add 2001:db8:5::1/128 dev lo
	in_ns $NS_E ip addr add 2001:db8::1/128 dev lo
	in_ns $NS_E ip link set eth0 up
	in_ns $NS_E ip route add default via 10.1.0.1
	in_ns $NS_E ip -6 route add default via fd01::1
	in_ns $NS_W ip addr add 10.2.0.2/24 dev eth0
	in_ns $NS_W ip addr add 192.0.2.1/32 dev lo
	in_ns $NS_W ip addr add fd02::2/64 dev eth0 nodad
	in_ns $NS_W ip addr add 2001:db8::1/128 dev lo
	in_ns $NS_W ip link set eth0 up
	in_ns $NS_W ip route add default via 10.2.0.1
	in_ns $NS_W ip -6 route add default via fd02::1
	in_ns $NS_E $PY "$PEER" serve E 198.51.100.1 192.0.2.1 10.1.0.2 2001:db8:5::1 2001:db8::1 >/dev/null 2>&1 &
	in_ns $NS_W $PY "$PEER" serve W 192.0.2.1 10.2.0.2 2001:db8::1 >/dev/null 2>&1 &
	wait_serving $NS_E 5 && wait_serving $NS_W 3
}

# serving NS NADDRS: peer.py serve listens in NS (TCP 8080 and 8081, UDP
# 5353 on each of its NADDRS addresses)
serving() {
	[ "$(in_ns "$1" ss -Hltn '( sport = :8080 or sport = :8081 )' | wc -l)" -ge 2 ] &&
		[ "$(in_ns "$1" ss -Hlun 'sport = :5353' | wc -l)" -ge "$2" ]
}
# wait_serving NS NADDRS: waits until peer.py serve in NS is ready
wait_serving() { wait_for 20 serving "$@"; }

# start_ifwall RULES [ARGS...]: runs the tun backend in the host namespace
# and waits until ifw0 is up in the client namespace.
start_ifwall() {
	local rules=$1; shift
	# A simple command (not a function) in the background, so that
	# $! is ifwall itself ('ip netns exec' execs it).
	ip netns exec $NS_H "$IFWALL" run --backend tun --netns $NS_C --log "$TUNLOG/log.json" "$@" "$rules" \
		>"$TUNLOG/out" 2>"$TUNLOG/err" &
	IFW_PID=$!
	wait_for 20 up_or_gone
	in_ns $NS_C ip route show default 2>/dev/null | grep -q ifw0 && return 0
	echo "ifwall did not come up: $(cat "$TUNLOG/err")" >&2
	return 1
}
# up_or_gone: the client has its default route via ifw0, or ifwall exited
up_or_gone() {
	in_ns $NS_C ip route show default 2>/dev/null | grep -q ifw0 || ! kill -0 "$IFW_PID" 2>/dev/null
}

# client tcp|udp ADDR PORT [TIMEOUT]
client() { in_ns $NS_C $PY "$PEER" "$@"; }

# The host's egress interface for a destination, as the kernel says.
egress() { # DST CLIENT_ADDR
	in_ns $NS_H ip -o route get "$1" from "$2" iif ifw1 | sed -n 's/.* dev \([^ ]*\).*/\1/p'
}

# The host interface as the engine sees it through the tun backend: the
# name and the type from its link type (the veths here are 'ether', even
# the one named wg0, whose name alone would say 'tunnel'). Prints
# 'NAME iftype TYPE' for a packet description.
host_if() { # IFNAME
	local t
	t=$(in_ns $NS_H cat /sys/class/net/"$1"/type 2>/dev/null)
	case $t in
	1) echo "$1 iftype ether" ;;
	772) echo "$1 iftype loopback" ;;
	*) echo "$1 iftype tunnel" ;;
	esac
}

# What a connection should do, from the first word of query's answer.
predicted() { # PROTO VERDICT
	case "$2" in
	pass) echo ok ;;
	block) echo timeout ;;
	reject) [ "$1" = tcp ] && echo refused || echo unreachable ;;
	*) echo "bad verdict '$2'" ;;
	esac
}

# answer_timeout WANT: how long a client waits for an answer. A drop is
# known only by waiting (1.5 s); an answer that is due (ok, refused,
# unreachable) may be slow on a busy machine, so 10 s only bound a hang.
answer_timeout() { if [ "$1" = timeout ]; then echo 1.5; else echo 10; fi; }

# query_agrees RULES CLIENT_ADDR DST: a TCP connection, a UDP exchange and
# a ping from the client to DST pass or fail as 'ifwall query' says for
# 'out' on the interface the host routes DST through.
query_agrees() {
	local rules=$1 src=$2 dst=$3 ifname on proto desc verdict want got s d icmp t
	local -a run
	ifname=$(egress "$dst" "$src")
	on=$(host_if "$ifname")
	if [[ $dst == *:* ]]; then s="[$src]" d="[$dst]" icmp=icmp6; else s=$src d=$dst icmp=icmp; fi
	for proto in tcp udp icmp; do
		case $proto in
		tcp) desc="out on $on tcp $s:40000 > $d:8080" ;;
		udp) desc="out on $on udp $s:40000 > $d:5353" ;;
		icmp) desc="out on $on $icmp $src > $dst type echo-request" ;;
		esac
		verdict=$("$IFWALL" query "$rules" "$desc" 2>&1 | awk '{print $1; exit}')
		if [ "$verdict" = ifwall ]; then
			fail "tun/query-agrees/$proto-$dst" "ifwall query: $("$IFWALL" query "$rules" "$desc" 2>&1)"
			continue
		fi
		want=$(predicted $proto "$verdict")
		t=$(answer_timeout "$want")
		case $proto in
		tcp) run=(client tcp "$dst" 8080 "$t") ;;
		udp) run=(client udp "$dst" 5353 "$t") ;;
		icmp) run=(client ping "$dst" "$t") ;;
		esac
		got=$("${run[@]}" 2>&1 | head -1)
		got=${got%% *}  # 'ok W' -> 'ok'
		if [ "$got" = "$want" ]; then pass "tun/query-agrees/$proto-$dst-$ifname-$verdict"
		else fail "tun/query-agrees/$proto-$dst-$ifname" "query '$desc' says '$verdict', so want $want, got $got"; fi
	done
}
