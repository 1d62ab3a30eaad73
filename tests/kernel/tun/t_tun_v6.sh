#!/usr/bin/env bash
# The tun backend dual-stack: an IPv4 and an IPv6 client prefix; IPv6
# traffic is decided like IPv4 (query agrees, per egress interface),
# rejects are answered with RST / ICMPv6 admin-prohibited, and teardown
# restores IPv6 forwarding.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun6
trap cleanup EXIT
topology || { fail tun6/topology "could not build the namespaces"; exit 0; }
in_ns $NS_H sysctl -qw net.ipv6.conf.all.forwarding=0

rules=$TUNLOG/r6.rules
cat >"$rules" <<'RULES'
pass out on wg0 inet6 proto { tcp udp icmp6 }
pass out on wg0 inet proto tcp
reject out on eth0 inet6 proto { tcp icmp6 } to 2001:db8:5::/48
RULES

if ! start_ifwall "$rules" --prefix 100.64.0.0/30 --prefix fd00:64::/126; then
	fail tun6/start "$(cat "$TUNLOG/err")"; exit 0
fi
expect tun6/client-address "fd00:64::2/126" \
	sh -c "ip netns exec $NS_C ip -o -6 addr show dev ifw0 scope global | awk '{print \$4}'"
expect tun6/client-default-route "default dev ifw0 proto static metric 1024 pref medium" \
	in_ns $NS_C ip -6 route show default
expect tun6/no-link-local "" in_ns $NS_C ip -6 addr show dev ifw0 scope link
expect tun6/host-forwarding 1 in_ns $NS_H cat /proc/sys/net/ipv6/conf/all/forwarding

for dst in 2001:db8::1 2001:db8:5::1 192.0.2.1 198.51.100.1; do
	if [[ $dst == *:* ]]; then src=fd00:64::2; else src=100.64.0.2; fi
	query_agrees "$rules" $src $dst
done

kill -TERM "$IFW_PID"; wait "$IFW_PID"; IFW_PID=
expect tun6/teardown-forwarding-restored 0 in_ns $NS_H cat /proc/sys/net/ipv6/conf/all/forwarding
expect tun6/teardown-client-route "" in_ns $NS_C ip -6 route show default
exit 0
