#!/usr/bin/env bash
# The tun backend's packet path against a plain veth route, in the same run:
# bulk TCP throughput (iperf3, both directions) and small-packet rate (iperf3 UDP, 64-byte
# payloads, unthrottled sender; the receiver's rate is what got through).
#
#   ifwtb-c  (ifw0) ==ifwall tun== (ifw1)  ifwtb-h  eth0 ---- ifwtb-s (iperf3 -s, 10.9.0.2)
#   ifwtb-p  (veth 10.8.0.2) ----------- (10.8.0.1) ifwtb-h
# Both clients are forwarded by the same host namespace to the same server.
# Targets (ratios tun / veth route, both measured in this run; issue 16):
#   bulk TCP up and down >= 0.9x (TSO segments cross ifwall whole: one read,
#                                one decision, one write per 64 KiB)
#   64-byte UDP packets  >= 0.8x (a batch's datagrams of one flow written as
#                                one UDP segmentation packet)
# The machine is shared, so each pair of runs is repeated BENCH_ROUNDS times,
# veth and tun in turns (which goes first alternates), and the median of the
# per-round ratios is checked.
set -u
SECONDS_PER_RUN=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
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

# iperf3 CLIENT_NS ARGS...: prints the receiver's bits/s, packets/s and what
# it got (bytes for TCP, datagrams for UDP).
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
        print('%.0f 0 %.0f' % (s['bits_per_second'], s['bytes']))
    else:
        s = end['sum']
        got = s['packets'] - s['lost_packets']
        print('%.0f %.0f %.0f' % (s['bits_per_second'] * got / max(1, s['packets']),
                                  got / s['seconds'], got))
except Exception as e:
    print('0 0 0')
PY
}

# ifwall's CPU time so far, in clock ticks (user + system).
ifwall_ticks() { awk '{ print $14 + $15 }' /proc/"$ifw_pid"/stat; }

# pair ROUND KIND ARGS...: one veth and one tun run (in turns by round);
# appends 'KIND VETH TUN TICKS AMOUNT' to the results: bits/s for bulk,
# packets/s for pps; ifwall's CPU ticks during the tun run and what the
# receiver got in it.
pair() {
	local round=$1 kind=$2 field=1 v t t0 ticks amount; shift 2
	[ "$kind" = pps ] && field=2
	[ $((round % 2)) -eq 1 ] && v=$(measure $NS_P "$@" | cut -d' ' -f$field)
	t0=$(ifwall_ticks)
	read -r t amount < <(measure $NS_C "$@" | awk -v f=$field '{ print $f, $3 }')
	ticks=$(( $(ifwall_ticks) - t0 ))
	[ $((round % 2)) -eq 0 ] && v=$(measure $NS_P "$@" | cut -d' ' -f$field)
	echo "$kind $v $t $ticks $amount" >>"$dir/results"
}
for round in $(seq "$ROUNDS"); do
	pair "$round" bulk-up
	pair "$round" bulk-down -R
	pair "$round" pps -u -b 0 -l 64
done

/usr/bin/python3 - "$dir/results" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows, cpu = {}, {}
tick = 1.0 / float(sys.argv[2])
for line in open(sys.argv[1]):
    kind, v, t, ticks, amount = line.split()
    rows.setdefault(kind, []).append((float(v), float(t)))
    c = cpu.setdefault(kind, [0.0, 0.0])
    c[0] += float(ticks) * tick
    c[1] += float(amount)
targets = {'bulk-up': 0.9, 'bulk-down': 0.9, 'pps': 0.8}
names = {'bulk-up': 'bulk TCP up:  ', 'bulk-down': 'bulk TCP down:', 'pps': '64-byte UDP:  '}
for kind in ('bulk-up', 'bulk-down', 'pps'):
    runs = rows.get(kind, [])
    ratios = [t / v if v else 0.0 for v, t in runs]
    unit, scale = ('Gbit/s', 1e9) if kind != 'pps' else ('kpkt/s', 1e3)
    for (v, t), r in zip(runs, ratios):
        print('tun %s %8.2f %s   veth route: %8.2f %s   ratio %.2fx' %
              (names[kind], t / scale, unit, v / scale, unit, r))
    median = statistics.median(ratios) if ratios else 0.0
    target = targets[kind]
    print('%s bench tun %s ratio %.2fx %s %.2fx (median of %s)' %
          ('PASS' if median >= target else 'FAIL', kind, median,
           '>=' if median >= target else '<', target,
           ' '.join('%.2f' % r for r in ratios)))
# What ifwall itself spends (less noisy than throughput on a shared machine).
for kind, (seconds, amount) in cpu.items():
    if amount and kind == 'pps':
        print('ifwall CPU %s: %.2f us per datagram received' % (kind, seconds * 1e6 / amount))
    elif amount:
        print('ifwall CPU %s: %.0f ms per GB received' % (kind, seconds * 1e3 / (amount / 1e9)))
PY
kill -TERM "$ifw_pid"; wait "$ifw_pid"; ifw_pid=
grep "packets from the client" "$dir/ifwall.err" || true
