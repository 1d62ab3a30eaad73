#!/usr/bin/env bash
# libifwall's nft functions from an outside program (tests/api/nft_api_test.c,
# public header, shared library), in a network namespace: apply installs
# table inet ifwall (nft itself is the oracle), show reads the rules back
# with their FILE:LINE and counters that count real packets, compile gives
# the script, flush removes the table and nothing else.
set -u
cd "${TOP:?}"
O=${O:-build}
CC=${CC:-cc}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP nft-api: needs root"; exit 0; fi
san=; case $O in *san*) san="-fsanitize=address,undefined" ;; esac
ns=ifwlib-nft$$
dir=$(mktemp -d /tmp/ifwlib-nft.XXXXXX)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$dir"' EXIT
bin=$dir/nft_api_test
if ! $CC -std=gnu11 -Wall -Wextra -Werror $san -Itools/lib -o "$bin" tests/api/nft_api_test.c \
	-L"$O" -lifwall -Wl,-rpath,"$TOP/$O" 2>"$dir/cc.log"; then
	echo "FAIL nft-api-build: $(head -5 "$dir/cc.log" | tr '\n' ' ')"; exit 1
fi
ip netns add "$ns" || { echo "FAIL nft-api-netns"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
# Someone else's table, which flush must leave alone.
in_ns nft add table inet other

cat >"$dir/lo.rules" <<'RULES'
pass out on lo proto udp to 127.0.0.1 port 9999
block out on lo proto udp to 127.0.0.1 port 9998
pass on type loopback all
RULES

out=$(in_ns "$bin" compile "$dir/lo.rules")
if grep -q 'table inet ifwall' <<<"$out"; then echo "PASS nft-compile"; else echo "FAIL nft-compile: $(head -3 <<<"$out")"; fi
if ! in_ns nft list table inet ifwall >/dev/null 2>&1; then echo "PASS nft-compile-changes-nothing"; else echo "FAIL nft-compile-changes-nothing"; fi

out=$(in_ns "$bin" apply "$dir/lo.rules")
if [ "$out" = "applied 3 rules" ] && in_ns nft list table inet ifwall >/dev/null 2>&1; then
	echo "PASS nft-apply"
else
	echo "FAIL nft-apply: $out"
fi

# Three datagrams to the passed port, two to the blocked one.
in_ns /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port, n in ((9999, 3), (9998, 2)):
    for i in range(n):
        try:
            s.sendto(b"x", ("127.0.0.1", port))
        except OSError:
            pass  # the blocked ones: EPERM from the local output hook'
out=$(in_ns "$bin" show)
if grep -q '^present 1$' <<<"$out" &&
   grep -q "^entry 0 $dir/lo.rules:1 pass 3 pass out on lo proto udp to 127.0.0.1 port 9999$" <<<"$out" &&
   grep -qE "^entry 0 $dir/lo.rules:2 block 2 block out on lo proto udp to 127.0.0.1 port 9998$" <<<"$out"; then
	echo "PASS nft-show-counters"
else
	echo "FAIL nft-show-counters: $(echo $out)"
fi

# A rule the kernel form cannot express: refused with its location, the
# installed rule set untouched.
listing() { in_ns nft -s list table inet ifwall 2>&1 | sed -E "s/(expires|timeout) [0-9a-z.]+//g"; }
before=$(listing)
printf 'pass on type loopback all\npass in on eth0 proto tcp to port 22 user 0\n' >"$dir/bad.rules"
out=$(in_ns "$bin" apply "$dir/bad.rules")
if [[ $out == "error -$(printf '%d' 95) $dir/bad.rules:2 "* ]] && [ -n "$before" ] && [ "$(listing)" = "$before" ]; then
	echo "PASS nft-apply-refused"
else
	echo "FAIL nft-apply-refused: $out"
fi

out=$(in_ns "$bin" flush)
if [ "$out" = "flushed 1" ] && ! in_ns nft list table inet ifwall >/dev/null 2>&1 &&
   in_ns nft list table inet other >/dev/null 2>&1; then
	echo "PASS nft-flush"
else
	echo "FAIL nft-flush: $out"
fi
out=$(in_ns "$bin" show 2>&1)
if [ "$out" = "present 0" ]; then echo "PASS nft-show-empty"; else echo "FAIL nft-show-empty: $out"; fi
out=$(in_ns "$bin" flush)
if [ "$out" = "flushed 0" ]; then echo "PASS nft-flush-again"; else echo "FAIL nft-flush-again: $out"; fi
