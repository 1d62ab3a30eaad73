#!/usr/bin/env bash
# ICMP echo through divert: bursts of echo requests sent back to back all
# come back (they are decided before conntrack, which would otherwise drop
# all but one as duplicates): sent, received and forwarded, IPv4 and IPv6;
# a rejected echo gets an error.
source "$(dirname "$0")/lib.sh"
divert_require_root echo-burst-v4 echo-burst-v6 echo-reject echo-block echo-burst-in echo-burst-forward echo-in-blocked

cat >"$TMP/r.rules" <<'R'
pass out proto icmp to 10.1.0.2
pass out proto icmp6 to fd01::2
reject out proto icmp to 10.2.0.2
pass out inet6 proto icmp6 to ff02::/16
pass in on veth0 proto icmp to 10.1.0.1
pass in on veth2 proto icmp to 10.1.0.2
pass proto icmp6 icmp6-type { nd-neighbor-solicit nd-neighbor-advert }
R
divert_topology
in_ns a sysctl -qw net.ipv4.ip_forward=1
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail echo-burst-v4 "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
echo_() { in_ns a /usr/bin/python3 "$TOP/tests/kernel/divert/echo.py" "$@"; }
r1=$(echo_ 10.1.0.2 5); r2=$(echo_ 10.1.0.2 5)
if [ "$r1 $r2" = "5 5" ]; then pass echo-burst-v4; else fail echo-burst-v4 "replies to 5+5 echoes: $r1 $r2"; fi
echo_ fd01::2 1 >/dev/null # neighbour discovery first
r=$(echo_ fd01::2 5)
if [ "$r" = 5 ]; then pass echo-burst-v6; else fail echo-burst-v6 "replies to 5 echoes: $r"; fi
r=$(echo_ 10.2.0.2 3)
if [ "$r" = error ]; then pass echo-reject; else fail echo-reject "to a rejected address: $r (want error)"; fi
r=$(echo_ fd02::2 3)
if [ "$r" = 0 ]; then pass echo-block; else fail echo-block "to a blocked address: $r (want 0)"; fi

echo_in() { local n=$1; shift; in_ns "$n" /usr/bin/python3 "$TOP/tests/kernel/divert/echo.py" "$@"; }
r=$(echo_in b 10.1.0.1 5)
if [ "$r" = 5 ]; then pass echo-burst-in; else fail echo-burst-in "b -> a: replies to 5 echoes: $r"; fi
r=$(echo_in c 10.1.0.2 5)
if [ "$r" = 5 ]; then pass echo-burst-forward; else fail echo-burst-forward "c -> b through a: replies to 5 echoes: $r"; fi
r=$(echo_in c 10.2.0.1 3)
if [ "$r" = 0 ]; then pass echo-in-blocked; else fail echo-in-blocked "c -> a (no rule): $r (want 0)"; fi
