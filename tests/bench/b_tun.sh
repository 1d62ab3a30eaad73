#!/usr/bin/env bash
# The tun backend's packet path against a plain veth route, in the same run:
# bulk TCP throughput (iperf3, both directions) and small-packet rate (iperf3 UDP, 64-byte
# payloads, unthrottled sender; the receiver's rate is what got through).
#
#   ifwtb-c  (ifw0) ==ifwall tun== (ifw1)  ifwtb-h  eth0 ---- ifwtb-s (iperf3 -s, 10.9.0.2)
#   ifwtb-p  (veth 10.8.0.2) ----------- (10.8.0.1) ifwtb-h
# Both clients are forwarded by the same host namespace to the same server.
# Targets (ratios tun / veth route, both measured in this run; issue 16):
#   bulk TCP up and down >= 0.9x
#   64-byte UDP packets  >= 0.8x
set -u
SECONDS_PER_RUN=${BENCH_SECONDS:-3}
NS_C=ifwtb-$$-c NS_P=ifwtb-$$-p NS_H=ifwtb-$$-h NS_S=ifwtb-$$-s
dir=$(mktemp -d /tmp/ifwtb.XXXXXX)
ifw_pid= srv_pid=

if [ "$(id -u)" -ne 0 ]; then echo "SKIP bench/tun: needs root"; exit 0; fi
command -v iperf3 >/dev/null || { echo "SKIP bench/tun: no iperf3"; exit 0; }

cleanup() {
	local ns p
	[ -n "$ifw_pid" ] && kill -TERM "$ifw_pid" 2>/dev/null && wait "$ifw_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	for ns in $NS_C $NS_P $NS_H $NS_S; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in $NS_C $NS_P $NS_H $NS_S; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns"; n "$ns" ip link set lo up; done
ip link add eth0 netns $NS_H type veth peer name eth0 netns $NS_S
ip link add veth0 netns $NS_H type veth peer name eth0 netns $NS_P
n $NS_H ip addr add 10.9.0.1/24 dev eth0; n $NS_H ip link set eth0 up
n $NS_H ip addr add 10.8.0.1/24 dev veth0; n $NS_H ip link set veth0 up
n $NS_S ip addr add 10.9.0.2/24 dev eth0; n $NS_S ip link set eth0 up
n $NS_S ip route add default via 10.9.0.1
n $NS_P ip addr add 10.8.0.2/24 dev eth0; n $NS_P ip link set eth0 up
n $NS_P ip route add default via 10.8.0.1
n $NS_H sysctl -qw net.ipv4.ip_forward=1

printf 'pass out on eth0 all\n' >"$dir/bench.rules"
# Simple commands in the background (not the function n): $! must be the
# process itself for the cleanup to stop it ('ip netns exec' execs).
ip netns exec $NS_H "$IFWALL" run --backend tun --netns $NS_C "$dir/bench.rules" 2>"$dir/ifwall.err" &
ifw_pid=$!
for _ in $(seq 50); do n $NS_C ip route show default 2>/dev/null | grep -q ifw0 && break; sleep 0.1; done
if ! n $NS_C ip route show default | grep -q ifw0; then
	echo "SKIP bench/tun: ifwall run --backend tun did not start: $(head -3 "$dir/ifwall.err")"; exit 0
fi
ip netns exec $NS_S iperf3 -s >/dev/null 2>&1 &
srv_pid=$!
sleep 0.5

# iperf3 CLIENT_NS ARGS...: prints the receiver's bits/s and packets/s.
measure() {
	local ns=$1; shift
	n "$ns" iperf3 -c 10.9.0.2 -t "$SECONDS_PER_RUN" -J "$@" >"$dir/out.json" 2>/dev/null
	/usr/bin/python3 - "$dir/out.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    end = r['end']
    if r['start']['test_start']['protocol'] != 'UDP':
        s = end['sum_received']
        print('%.0f 0' % s['bits_per_second'])
    else:
        s = end['sum']
        got = s['packets'] - s['lost_packets']
        print('%.0f %.0f' % (s['bits_per_second'] * got / max(1, s['packets']), got / s['seconds']))
except Exception as e:
    print('0 0')
PY
}

read -r veth_bps _ < <(measure $NS_P)
read -r tun_bps _ < <(measure $NS_C)
read -r veth_rbps _ < <(measure $NS_P -R)
read -r tun_rbps _ < <(measure $NS_C -R)
read -r _ veth_pps < <(measure $NS_P -u -b 0 -l 64)
read -r _ tun_pps < <(measure $NS_C -u -b 0 -l 64)

/usr/bin/python3 - "$veth_bps" "$tun_bps" "$veth_rbps" "$tun_rbps" "$veth_pps" "$tun_pps" <<'PY'
import sys
vb, tb, vr, tr, vp, tp = (float(x) for x in sys.argv[1:])
ratio = lambda a, b: '%.2fx' % (a / b) if b else 'n/a'
print('tun bulk TCP up:   %8.2f Gbit/s   veth route: %8.2f Gbit/s   ratio %s' % (tb / 1e9, vb / 1e9, ratio(tb, vb)))
print('tun bulk TCP down: %8.2f Gbit/s   veth route: %8.2f Gbit/s   ratio %s' % (tr / 1e9, vr / 1e9, ratio(tr, vr)))
print('tun 64-byte UDP:   %8.0f pkt/s    veth route: %8.0f pkt/s    ratio %s' % (tp, vp, ratio(tp, vp)))
def check(name, a, b, target):
    r = a / b if b else 0
    print('%s bench tun %s ratio %.2fx %s %.2fx' % ('PASS' if r >= target else 'FAIL', name, r,
          '>=' if r >= target else '<', target))
check('bulk-up', tb, vb, 0.9)
check('bulk-down', tr, vr, 0.9)
check('pps', tp, vp, 0.8)
PY
kill -TERM "$ifw_pid"; wait "$ifw_pid"; ifw_pid=
grep "packets from the client" "$dir/ifwall.err" || true
