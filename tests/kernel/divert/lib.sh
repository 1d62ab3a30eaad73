# Shared by tests/kernel/divert/t_*.sh: namespaces named ifwdiv-*, PASS/FAIL/SKIP
# lines, cleanup on exit. Source it, then call divert_require_root NAME.
: "${O:=build}" "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
: "${IFWALL:=$TOP/$O/ifwall}"
HELPERS=$TOP/$O/tools
source "$TOP/tests/common.sh"   # pass, fail, skip, check, wait_for, other_user_dir
NS_PREFIX=ifwdiv-$$
CLEANUP=()

divert_cleanup() {
	local i
	for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" >/dev/null 2>&1; done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap divert_cleanup EXIT

# divert_require_root CASES...: prints SKIP for each case and exits 0 unless
# root with netns support.
divert_require_root() {
	local why=
	if [ "$(id -u)" -ne 0 ]; then why="needs root"
	elif ! command -v ip >/dev/null; then why="needs iproute2"
	elif ! ip netns add "$NS_PREFIX-probe" 2>/dev/null; then why="cannot create network namespaces"
	else ip netns del "$NS_PREFIX-probe"; fi
	if [ -n "$why" ]; then
		for c in "$@"; do skip "$c" "$why"; done
		exit 0
	fi
}

# ns NAME: the full namespace name
ns() { echo "$NS_PREFIX-$1"; }
# in_ns NAME CMD...: run a command inside namespace NAME
in_ns() { local n=$1; shift; ip netns exec "$NS_PREFIX-$n" "$@"; }

# divert_topology: namespace a (the host ifwall guards) with veth0 to b
# (10.1.0.0/24, fd01::/64) and veth2 to c (10.2.0.0/24, fd02::/64).
divert_topology() {
	local n
	for n in a b c; do ip netns add "$(ns $n)"; in_ns $n ip link set lo up; done
	ip -n "$(ns a)" link add veth0 type veth peer name veth1 netns "$(ns b)"
	ip -n "$(ns a)" link add veth2 type veth peer name veth3 netns "$(ns c)"
	in_ns a ip addr add 10.1.0.1/24 dev veth0
	in_ns a ip addr add fd01::1/64 dev veth0 nodad
	in_ns a ip addr add 10.2.0.1/24 dev veth2
	in_ns a ip addr add fd02::1/64 dev veth2 nodad
	in_ns b ip addr add 10.1.0.2/24 dev veth1
	in_ns b ip addr add fd01::2/64 dev veth1 nodad
	in_ns c ip addr add 10.2.0.2/24 dev veth3
	in_ns c ip addr add fd02::2/64 dev veth3 nodad
	in_ns a ip link set veth0 up; in_ns a ip link set veth2 up
	in_ns b ip link set veth1 up; in_ns c ip link set veth3 up
	in_ns b ip route add default via 10.1.0.1
	in_ns c ip route add default via 10.2.0.1
}

# start_peer NS SPEC...: tests/kernel/divert/peer.py in NS, waits until it listens.
start_peer() {
	local n=$1; shift
	local out=$TMP/peer-$n.out
	ip netns exec "$(ns "$n")" /usr/bin/python3 "$TOP/tests/kernel/divert/peer.py" "$@" >"$out" 2>&1 &
	CLEANUP+=("kill $!")
	wait_for 20 grep -q ready "$out"
}

# probe NS TIMEOUT SPEC...: tests/kernel/divert/probe.py in NS
probe() { local n=$1; shift; in_ns "$n" /usr/bin/python3 "$TOP/tests/kernel/divert/probe.py" "$@"; }

# stop_quietly PID: SIGTERM, then SIGKILL if it is still there after 2 s.
stop_quietly() {
	kill -TERM "$1" 2>/dev/null || return 0
	local i
	for i in $(seq 20); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# start_divert NS ARGS...: ifwall run --backend divert in NS; sets DIVERT_PID
# and DIVERT_ERR (its stderr) and waits until it is ready.
start_divert() {
	local n=$1; shift
	DIVERT_ERR=$TMP/divert-$n-$RANDOM.err
	# ip netns exec execs, so $! is ifwall itself.
	ip netns exec "$(ns "$n")" "$IFWALL" run --backend divert "$@" 2>"$DIVERT_ERR" &
	DIVERT_PID=$!
	CLEANUP+=("stop_quietly $DIVERT_PID")
	wait_for 20 grep -q 'ready$' "$DIVERT_ERR"
}

TMP=$(mktemp -d /tmp/ifwdiv.XXXXXX)
CLEANUP+=("rm -rf $TMP")

# table_exists NS: ifwall's divert table is in NS's kernel (nft as oracle)
table_exists() { in_ns "$1" nft list table inet ifwall_divert >/dev/null 2>&1; }

# stop_capture NS DST PCAP PID: ends tcpdump PID, which captures into PCAP
# on NS's side of a link, once everything that crossed the link before is
# in the file: NS sends a marker (UDP to DST port 9, out through that
# link; the capture's filter must take 'udp dst port 9') until tcpdump has
# written one. Count packets with a filter that leaves the markers out.
stop_capture() {
	CAPTURE_NS=$1 CAPTURE_DST=$2 CAPTURE_FILE=$3
	wait_for 20 capture_marked
	kill "$4" 2>/dev/null
	wait "$4" 2>/dev/null
}
capture_marked() {
	in_ns "$CAPTURE_NS" bash -c "echo ifwall-test-marker >/dev/udp/$CAPTURE_DST/9" 2>/dev/null
	tcpdump -r "$CAPTURE_FILE" -n 'udp dst port 9' 2>/dev/null | grep -q .
}
