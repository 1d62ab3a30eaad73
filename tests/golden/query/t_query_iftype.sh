#!/usr/bin/env bash
# The interface type query guesses from a name (cli.md): lo* loopback;
# wg*, tun*, ppp*, utun* tunnel; everything else ether, tap* included (a TAP
# device is Ethernet). 'iftype TYPE' overrides the guess.
set -u
cd "$TOP/tests/golden/query" || exit 1
expect() { # NAME WANT DESCRIPTION
	local got
	got=$("$IFWALL" query q4.rules "$3" 2>&1)
	if [ "$got" = "$2" ]; then echo "PASS query-iftype: $1"
	else echo "FAIL query-iftype: $1: got '$got', want '$2'"; fi
}
tunnel='pass q4.rules:10 pass out on type tunnel all'
expect "tap0 is ether" "reject default" 'out on tap0 udp 10.0.0.2:1 > 1.1.1.1:2'
expect "tap is ether" "reject default" 'out on tap udp 10.0.0.2:1 > 1.1.1.1:2'
expect "tap0 iftype tunnel" "$tunnel" 'out on tap0 iftype tunnel udp 10.0.0.2:1 > 1.1.1.1:2'
for name in wg1 tun0 ppp0 utun3; do
	expect "$name is a tunnel" "$tunnel" "out on $name udp 10.0.0.2:1 > 1.1.1.1:2"
done
for name in eth0 enp3s0 br0 vpn0 tapx0; do
	expect "$name is ether" "reject default" "out on $name udp 10.0.0.2:1 > 1.1.1.1:2"
done
expect "tun0 iftype ether" "reject default" 'out on tun0 iftype ether udp 10.0.0.2:1 > 1.1.1.1:2'
