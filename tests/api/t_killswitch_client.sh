#!/usr/bin/env bash
# tools/examples/killswitch_client: a VPN client's state transitions
# (blocked, connecting, connected, moving, connected to the second server,
# down) through libifwall, in memory (ifw_ruleset_table_change) and, as
# root in a network namespace, in the kernel (ifw_nft_table_change). Each
# state's table and what a UDP packet to each server meets must be exactly
# the expected lines, in both modes; after 'down' the kernel's table is
# empty (ifwall table ... show).
set -u
cd "${TOP:?}"
O=${O:-build}
ex=$PWD/$O/tools/killswitch_client
rules=$PWD/tests/kernel/hooks/killswitch.rules
[ -x "$ex" ] || { echo "FAIL killswitch-client: $ex not built"; exit 1; }
expected='blocked    table <vpn_servers> = { }  198.51.100.7: blocked  2001:db8::7: blocked
connecting table <vpn_servers> = { 198.51.100.7 2001:db8::7 }  198.51.100.7: allowed  2001:db8::7: allowed
connected  table <vpn_servers> = { 198.51.100.7 }  198.51.100.7: allowed  2001:db8::7: blocked
moving     table <vpn_servers> = { 198.51.100.7 2001:db8::7 }  198.51.100.7: allowed  2001:db8::7: allowed
connected  table <vpn_servers> = { 2001:db8::7 }  198.51.100.7: blocked  2001:db8::7: allowed
down       table <vpn_servers> = { }  198.51.100.7: blocked  2001:db8::7: blocked'
out=$("$ex" "$rules" vpn_servers 198.51.100.7 2001:db8::7 51820 2>&1)
[ "$out" = "$expected" ] && echo "PASS killswitch-client-memory: six states as expected" ||
	{ echo "FAIL killswitch-client-memory: got:"; echo "$out" | sed 's/^/# /'; }
out=$("$ex" "$rules" vpn_servers 198.51.100.7 2001:db8::7 1194 2>&1 | head -3 | tail -1)
[[ $out == *"198.51.100.7: allowed"* ]] && echo "PASS killswitch-client-port-list: port 1194 is an endpoint port too" ||
	echo "FAIL killswitch-client-port-list: $out"
"$ex" "$rules" nope 198.51.100.7 2001:db8::7 51820 >/dev/null 2>&1; rc=$?
[ $rc = 3 ] && echo "PASS killswitch-client-unknown-table: exit 3" || echo "FAIL killswitch-client-unknown-table: exit $rc"
if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null; then
	echo "SKIP killswitch-client-nft: needs root and nftables"; exit 0
fi
ns=ifwlib-ks$$
trap 'ip netns del $ns 2>/dev/null' EXIT
ip netns add $ns || { echo "FAIL killswitch-client-nft: netns"; exit 0; }
out=$(ip netns exec $ns "$ex" --nft "$rules" vpn_servers 198.51.100.7 2001:db8::7 51820 2>&1)
[ "$out" = "$expected" ] && echo "PASS killswitch-client-nft: six states as expected in the kernel" ||
	{ echo "FAIL killswitch-client-nft: got:"; echo "$out" | sed 's/^/# /'; }
left=$(ip netns exec $ns "$O/ifwall" table vpn_servers show)
[ -z "$left" ] && echo "PASS killswitch-client-nft-down: the kernel's table is empty after 'down'" ||
	echo "FAIL killswitch-client-nft-down: $left"
