# Helpers of the resident nft backend tests (tests/kernel/nftrun, tests/kernel/coexist).
#
#   client ($RUN-cli)                         far side ($RUN-far)
#   eth0 192.168.7.2  ---------------------  f0 192.168.7.1   (the physical link)
#   tun0 10.64.7.2    ---------------------  f1 10.64.7.1     (stands for the VPN)
#
# The far side counts every probe datagram that reaches it, per destination
# address (probe.py listen): 192.168.7.1 is a leak, 10.64.7.1 the tunnel.
# The kill switch (KS_RULES) passes only loopback and tun0.
set -u
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
source "$TOP/tests/common.sh"   # pass, fail, skip, check
IFWALL=${IFWALL:-$TOP/build/ifwall}
PY=/usr/bin/python3
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$LIB_DIR/probe.py
RUN=${RUN:-ifwrun-$$}
CLI=$RUN-cli FAR=$RUN-far
LEAK_ADDR=192.168.7.1 TUN_ADDR=10.64.7.1 PORT=9999
WORK=$(mktemp -d /tmp/ifwrun.XXXXXX)
chmod 755 "$WORK"
PIDS=()
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

run_cleanup() {
	local pid
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null; done
	remove_netns $CLI $FAR
	[ -n "${KEEP:-}" ] && echo "# kept $WORK" >&2 || rm -rf "$WORK"
}
trap run_cleanup EXIT
trap 'exit 1' INT TERM

need_root() {
	if [ "$(id -u)" -ne 0 ]; then skip "$1" "needs root (network namespaces, nftables)"; exit 0; fi
	for tool in ip nft setpriv; do
		command -v $tool >/dev/null || { skip "$1" "$tool not installed (tests/deps.sh)"; exit 0; }
	done
}

wait_for() {   # wait_for TRIES COMMAND...: poll every 20 ms
	local tries=$1; shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.02
		tries=$((tries - 1))
	done
	return 1
}

bg() {   # bg LOG COMMAND...: background process, remembered; $LAST_PID
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	LAST_PID=$!
	PIDS+=($LAST_PID)
}

net_setup() {
	ip netns add $CLI && ip netns add $FAR || return 1
	ip -n $CLI link set lo up && ip -n $FAR link set lo up
	ip link add eth0 netns $CLI type veth peer name f0 netns $FAR || return 1
	ip link add tun0 netns $CLI type veth peer name f1 netns $FAR || return 1
	ip -n $CLI addr add 192.168.7.2/24 dev eth0
	ip -n $CLI addr add 10.64.7.2/24 dev tun0
	ip -n $FAR addr add $LEAK_ADDR/24 dev f0
	ip -n $FAR addr add $TUN_ADDR/24 dev f1
	for l in "$CLI eth0" "$CLI tun0" "$FAR f0" "$FAR f1"; do
		set -- $l; ip -n $1 link set $2 up
	done
	# static neighbours: probes need no ARP through the firewall
	local m0 m1
	m0=$(nsx $FAR cat /sys/class/net/f0/address) m1=$(nsx $FAR cat /sys/class/net/f1/address)
	ip -n $CLI neigh replace $LEAK_ADDR lladdr "$m0" dev eth0 nud permanent
	ip -n $CLI neigh replace $TUN_ADDR lladdr "$m1" dev tun0 nud permanent
	cat >"$WORK/ks.rules" <<'RULES'
# the test kill switch: only loopback and the tunnel
set default block
set block-policy drop
pass on lo all
pass out on tun0 all
RULES
	KS_RULES=$WORK/ks.rules
	bg "$WORK/listen.out" ip netns exec $FAR $PY "$PROBE" listen $PORT "$WORK/counts"
	wait_for 200 grep -qs ready "$WORK/listen.out"
}

# received ADDR: datagrams the far side got for ADDR so far
received() { awk -v a="$1" '$1 == a { print $2 }' "$WORK/counts" | grep . || echo 0; }

# probe_burst DST SECONDS: sends from the client, 1 per ms; prints how many
# arrived at the far side for DST
probe_burst() {
	local before after
	before=$(received "$1")
	nsx $CLI $PY "$PROBE" send "$1" $PORT "$2" 1 >/dev/null
	sleep 0.2
	after=$(received "$1")
	echo $((after - before))
}

# run_start LOG [OPTIONS]: ifwall run --backend nft KS_RULES in the client;
# waits until ready; $RUN_PID
run_start() {
	local log=$1; shift
	bg "$log" ip netns exec $CLI "$IFWALL" run --backend nft "$@" "$KS_RULES"
	RUN_PID=$LAST_PID
	wait_for 250 grep -qs 'ready$' "$log"
}

# the table's flags as Debian's nft 1.0.6 prints them ("owner"; it does not
# know "persist" and leaves it out)
table_flags() { nsx $CLI nft list table inet ifwall 2>/dev/null | awk 'NR == 2 && $1 == "flags" { print $2 }'; }
has_table() { nsx $CLI nft list tables 2>/dev/null | grep -qx 'table inet ifwall'; }
