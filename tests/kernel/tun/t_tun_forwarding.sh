#!/usr/bin/env bash
# The tun backend turns host forwarding on (IPv4 and IPv6) and puts back
# the value the host had, even across a crash: kill -9, a new run, then a
# clean stop leave forwarding as it was before the first run (off), not as
# the killed run left it (on). Two overlapping runs: the last one to stop
# restores.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun-forwarding
trap cleanup EXIT
topology || { fail tun-forwarding/topology "could not build the namespaces"; exit 0; }

fwd() { echo "$(in_ns $NS_H cat /proc/sys/net/ipv4/ip_forward) $(in_ns $NS_H cat /proc/sys/net/ipv6/conf/all/forwarding)"; }
in_ns $NS_H sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
rules=$TUNLOG/r.rules
echo 'pass out all' >"$rules"
args="--prefix 100.64.0.0/30 --prefix fd64::/126"
# The client's route comes up a moment before forwarding is turned on.
fwd_on() { for _ in $(seq 40); do [ "$(fwd)" = "1 1" ] && break; sleep 0.05; done; fwd; }

start_ifwall "$rules" $args || { fail tun-forwarding/start "$(cat "$TUNLOG/err")"; exit 0; }
running=$(fwd_on)
kill -KILL "$IFW_PID"; wait "$IFW_PID" 2>/dev/null; IFW_PID=
sleep 0.2
crashed=$(fwd)
start_ifwall "$rules" $args || { fail tun-forwarding/restart "$(cat "$TUNLOG/err")"; exit 0; }
again=$(fwd_on)
stop_ifwall
after=$(fwd)
if [ "$running" = "1 1" ] && [ "$crashed" = "1 1" ] && [ "$again" = "1 1" ] && [ "$after" = "0 0" ]; then
	pass "tun-forwarding/kill9-then-clean-stop-restores: ip_forward, all.forwarding: running $running, after kill -9 $crashed, next run $again, after its clean stop $after"
else
	fail tun-forwarding/kill9-then-clean-stop-restores "running: $running, after kill -9: $crashed, next run: $again, after its clean stop: $after (want 1 1, 1 1, 1 1, 0 0)"
fi

# A host that forwarded before keeps forwarding.
in_ns $NS_H sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=0
start_ifwall "$rules" $args || { fail tun-forwarding/start2 "$(cat "$TUNLOG/err")"; exit 0; }
stop_ifwall
expect tun-forwarding/on-before-stays-on "1 0" fwd
