#!/usr/bin/env bash
# The tun backend end to end: ifwall between a client namespace and a host
# with two egress interfaces (eth0, wg0). Real TCP/UDP/ICMP traffic must
# pass or fail exactly as 'ifwall query' predicts for the interface the host
# routes it through; rejects are answered at once; a route change and a
# reload re-decide a live flow; teardown leaves nothing behind.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun
trap cleanup EXIT
topology || { fail tun/topology "could not build the namespaces"; exit 0; }

rules=$TUNLOG/r.rules
cat >"$rules" <<'RULES'
pass out on wg0 proto tcp to any port { 8080 8081 }
pass out on wg0 proto { udp icmp }
reject out on eth0 proto tcp to 198.51.100.1 port 8080
reject out on eth0 proto icmp
block out on eth0 proto udp to 198.51.100.1
reject in on wg0 proto tcp to 100.64.0.2 port 8080
RULES

if ! start_ifwall "$rules"; then
	fail tun/start "$(cat "$TUNLOG/err")"; exit 0
fi

# --- set-up ------------------------------------------------------------------
expect tun/client-address "inet 100.64.0.2/30" \
	sh -c "ip netns exec $NS_C ip -o -4 addr show dev ifw0 | awk '{print \$3, \$4}'"
expect tun/client-default-route "default dev ifw0 proto static scope link" \
	in_ns $NS_C ip route show default
expect tun/host-client-prefix-route "100.64.0.0/30 dev ifw1 proto kernel scope link src 100.64.0.1" \
	sh -c "ip netns exec $NS_H ip route show 100.64.0.0/30"
expect tun/host-forwarding 1 in_ns $NS_H cat /proc/sys/net/ipv4/ip_forward

# --- verdicts as query predicts ------------------------------------------------
for dst in 192.0.2.1 198.51.100.1; do
	query_agrees "$rules" 100.64.0.2 $dst
done

# The passed flows went out through the routed interface: W answers via wg0.
expect tun/tcp-via-wg0-reaches-W "ok W" client tcp 192.0.2.1 8080 10

# Inbound: W opens a connection toward the client's server, from behind
# wg0; the reject answers it with a RST written back toward the host (into
# ifw1), so W is refused at once.
in_ns $NS_C $PY "$PEER" serve C 100.64.0.2 >/dev/null 2>&1 &
wait_serving $NS_C 1
desc="in on $(host_if wg0) tcp 192.0.2.1:40000 > 100.64.0.2:8080"
verdict=$("$IFWALL" query "$rules" "$desc" | awk '{print $1}')
expect tun/inbound-query-says-reject reject echo "$verdict"
expect tun/inbound-reject-refused refused in_ns $NS_W $PY "$PEER" tcp 100.64.0.2 8080 10 192.0.2.1

# A reject is answered (RST: refused), it does not time out as a drop
# would. (How fast is not make check's business.)
expect tun/reject-answered refused client tcp 198.51.100.1 8080 10

# Path MTU discovery through the tunnel path: the host's wg0 takes smaller
# packets than the client sends; the host's "fragmentation needed" comes
# back through ifwall as an error related to the passed flow (on wg0), not
# as a new packet the rules would drop.
in_ns $NS_H ip link set wg0 mtu 1300
expect tun/pmtu-upload-completes "ok 300000" client upload 192.0.2.1 300000 5
in_ns $NS_H ip link set wg0 mtu 1500

# --- log ------------------------------------------------------------------------
if /usr/bin/python3 - "$TUNLOG/log.json" "$rules" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [l for l in lines if 'verdict' in l]
assert flows, 'no verdict lines'
for l in flows:
    for k in ('time', 'verdict', 'dir', 'iface', 'proto', 'src', 'dst', 'rule'):
        assert k in l, 'missing %s in %s' % (k, l)
want = {'verdict': 'reject', 'dir': 'out', 'iface': 'eth0', 'proto': 'tcp',
        'dst': '198.51.100.1', 'dport': 8080, 'rule': sys.argv[2] + ':3'}
assert any(all(l.get(k) == v for k, v in want.items()) for l in flows), 'no reject line for rule 3'
PY
then pass tun/log-json; else fail tun/log-json "see $TUNLOG/log.json"; fi

# --- a route change moves a live flow ------------------------------------------------
# One UDP flow to 192.0.2.1, passed via wg0. Halfway through, the host
# routes 192.0.2.0/24 via eth0 (where the same address lives too): the next
# datagram is decided anew as out on eth0, which only wg0 may use.
cat >"$TUNLOG/wg-only.rules" <<'RULES'
pass out on wg0 all
RULES
stop_ifwall
start_ifwall "$TUNLOG/wg-only.rules" || fail tun/restart "$(cat "$TUNLOG/err")"
# marks: what the current udpflow printed so far ('R' a reply, '.' none)
marks() { cat "$TUNLOG/$flow"; }
# replies_after N: 4 replies in a row after the first N marks
replies_after() { local m; m=$(marks); [[ ${m:$1} == *RRRR* ]]; }
# silent_after N: 8 marks after the first N, the last 8 without a reply
silent_after() { local m; m=$(marks); [ ${#m} -ge $(($1 + 8)) ] && [[ $m == *........ ]]; }
# start_flow NAME: udpflow to W for at most 60 s, into $TUNLOG/NAME. A
# simple command, so that $! is python itself ('ip netns exec' execs it).
start_flow() {
	flow=$1
	ip netns exec $NS_C $PY "$PEER" udpflow 192.0.2.1 5353 60 >"$TUNLOG/$flow" &
	flow_pid=$!
}
# stop_flow: ends the current udpflow
stop_flow() { kill "$flow_pid" 2>/dev/null; wait "$flow_pid" 2>/dev/null; }
start_flow route-flow
if wait_for 20 replies_after 0; then
	at=$(marks | wc -c)
	in_ns $NS_H ip route replace 192.0.2.0/24 via 10.1.0.2 dev eth0
	wait_for 20 silent_after "$at"
fi
stop_flow
if replies_after 0 && silent_after "${at:-0}"; then pass tun/route-change-moves-flow
else fail tun/route-change-moves-flow "replies per datagram: $(marks) (route changed after ${at:-no} marks)"; fi
verdict=$("$IFWALL" query "$TUNLOG/wg-only.rules" "out on $(host_if eth0) udp 100.64.0.2:40000 > 192.0.2.1:5353" 2>&1)
expect tun/route-change-query-agrees block echo "${verdict%% *}"
in_ns $NS_H ip route replace 192.0.2.0/24 via 10.2.0.2 dev wg0

# --- reload re-checks live flows; a bad file keeps the old rules ---------------------
# The flow passes; a bad file is reported and the flow still passes (the
# old rules stay); a good file without udp stops it.
start_flow reload-flow
bad_at= good_at=
if wait_for 20 replies_after 0; then
	echo 'pass out on wg0 proto { tcp icmp' >"$TUNLOG/wg-only.rules"   # syntax error
	kill -HUP "$IFW_PID"
	if wait_for 20 grep -q 'reload of .*wg-only.rules failed' "$TUNLOG/err"; then
		bad_at=$(marks | wc -c)
		if wait_for 20 replies_after "$bad_at"; then
			printf 'pass out on wg0 proto tcp\n' >"$TUNLOG/wg-only.rules"
			kill -HUP "$IFW_PID"
			wait_for 20 grep -q 'rules reloaded' "$TUNLOG/err" && good_at=$(marks | wc -c) &&
				wait_for 20 silent_after "$good_at"
		fi
	fi
fi
stop_flow
if [ -n "$bad_at" ] && [ -n "$good_at" ] && replies_after "$bad_at" && silent_after "$good_at"; then
	pass tun/reload-rechecks-flows
else fail tun/reload-rechecks-flows "replies per datagram: $(marks) (bad file reported after ${bad_at:-no} marks, good one loaded after ${good_at:-no})"; fi
if grep -q "wg-only.rules:1" "$TUNLOG/err"; then pass tun/reload-error-reported
else fail tun/reload-error-reported "no diagnostic in: $(cat "$TUNLOG/err")"; fi

# --- teardown -----------------------------------------------------------------------
kill -TERM "$IFW_PID"
rc=0
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_for 20 gone "$IFW_PID"
if kill -0 "$IFW_PID" 2>/dev/null; then fail tun/sigterm-exits "still running"; else
	wait "$IFW_PID"; rc=$?
	expect tun/sigterm-exit-code 0 echo $rc
fi
IFW_PID=
expect tun/teardown-client-device "" sh -c "ip netns exec $NS_C ip -o link show | grep ifw0"
expect tun/teardown-client-route "" in_ns $NS_C ip route show
expect tun/teardown-host-device "" sh -c "ip netns exec $NS_H ip -o link show | grep ifw1"
expect tun/teardown-host-route "" in_ns $NS_H ip route show 100.64.0.0/30
expect tun/teardown-forwarding-restored 0 in_ns $NS_H cat /proc/sys/net/ipv4/ip_forward

# --- kill -9: the devices go with the process, so the client is cut off --------------
start_ifwall "$rules" || fail tun/restart "$(cat "$TUNLOG/err")"
kill -KILL "$IFW_PID"; wait "$IFW_PID" 2>/dev/null; IFW_PID=
# the devices go when the kernel has released the process's files
cut_off() { [ -z "$(in_ns $NS_C ip route show default)" ] && ! in_ns $NS_H ip link show ifw1 >/dev/null 2>&1; }
wait_for 20 cut_off
expect tun/kill9-client-cut-off "" in_ns $NS_C ip route show default
expect tun/kill9-no-host-device "" sh -c "ip netns exec $NS_H ip -o link show | grep ifw1"

# --- all or nothing: a client namespace with a default route is refused ----------------
in_ns $NS_H sysctl -qw net.ipv4.ip_forward=0
in_ns $NS_C ip link add other0 type veth peer name other1
in_ns $NS_C ip link set other0 up
in_ns $NS_C ip route add default dev other0
in_ns $NS_H timeout 10 "$IFWALL" run --backend tun --netns $NS_C "$rules" >/dev/null 2>"$TUNLOG/err2"
expect tun/refuses-existing-default-route-exit 3 echo $?
expect tun/refused-leaves-no-host-device "" sh -c "ip netns exec $NS_H ip -o link show | grep ifw1"
expect tun/refused-leaves-no-client-device "" sh -c "ip netns exec $NS_C ip -o link show | grep ifw0"
expect tun/refused-leaves-forwarding 0 in_ns $NS_H cat /proc/sys/net/ipv4/ip_forward
expect tun/refused-says-why "ifwall run: the client namespace $NS_C already has a default route" \
	grep -m1 'default route' "$TUNLOG/err2"

# --- usage errors ---------------------------------------------------------------------
in_ns $NS_H timeout 10 "$IFWALL" run --backend tun "$rules" >/dev/null 2>&1
expect tun/needs-netns-exit 2 echo $?
in_ns $NS_H timeout 10 "$IFWALL" run --backend tun --netns $NS_C --prefix 100.64.0.0/31 "$rules" >/dev/null 2>&1
expect tun/prefix-too-small-exit 2 echo $?
in_ns $NS_H timeout 10 "$IFWALL" run --backend tun --netns $NS_C --prefix 10.0.0.0/30 --prefix 10.1.0.0/30 "$rules" >/dev/null 2>&1
expect tun/two-ipv4-prefixes-exit 2 echo $?
in_ns $NS_H timeout 10 "$IFWALL" run --backend tun --netns ifwtun-nonexistent "$rules" >/dev/null 2>&1
expect tun/missing-netns-exit 3 echo $?
exit 0
