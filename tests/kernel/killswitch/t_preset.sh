#!/usr/bin/env bash
# The killswitch preset against the holes an outside review found (issue
# 11): each row is a packet the preset must decide a given way, through
# query, on the shipped examples and on small files made here; then the
# warnings and errors check must give.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
T=$(mktemp -d /tmp/ifw-ks.XXXXXX)
trap 'rm -rf "$T"' EXIT
TEST_PREFIX="killswitch: "
EX=$TOP/rules/examples

# want VERDICT RULES [QUERY OPTIONS...] -- DESCRIPTION
want() {
	local verdict=$1 rules=$2; shift 2
	local opts=()
	while [ "$1" != "--" ]; do opts+=("$1"); shift; done
	shift
	local got
	got=$("$IFWALL" query "${opts[@]+"${opts[@]}"}" "$rules" "$1" 2>&1)
	if [ "${got%% *}" = "$verdict" ]; then pass "$(basename "$rules") '$1' -> $verdict"
	else fail "$(basename "$rules") '$1': got '$got', want $verdict"; fi
}

# 1. CVE-2019-14899: a probe to the tunnel's address on another interface
# gets no answer, even under 'set block-policy reject' (openvpn.rules).
want block "$EX/openvpn.rules" --ifaddr tun0=10.8.0.2 -- 'in on eth0 tcp 192.168.1.1:4000 > 10.8.0.2:22'
want block "$EX/openvpn.rules" --ifaddr tun0=10.8.0.2 -- 'in on eth0 udp 192.168.1.1:4000 > 10.8.0.2:53'
want block "$EX/openvpn.rules" --ifaddr tun0=fd00:8::2 -- 'in on eth0 tcp [fe80::1]:4000 > [fd00:8::2]:22'
want block "$EX/wireguard.rules" --ifaddr wg0=10.64.0.2 -- 'in on eth0 tcp 192.168.1.1:4000 > 10.64.0.2:22'
# ... and the other default-blocked packets of openvpn.rules are rejected
# going out, as its block-policy says.
want reject "$EX/openvpn.rules" -- 'out on eth0 tcp 192.168.1.10:4000 > 93.184.216.34:443'

# 2. The drop comes before DHCP, LAN and bridge passes.
cat > "$T/order.rules" <<'R'
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp
    allow lan
    allow dhcp
    allow bridge docker0
}
R
want block "$T/order.rules" --ifaddr wg0=10.64.0.2 -- 'in on eth0 udp 192.168.1.1:67 > 10.64.0.2:68'
want block "$T/order.rules" --ifaddr wg0=10.64.0.2 -- 'in on eth0 tcp 192.168.1.1:4000 > 10.64.0.2:22'
want block "$T/order.rules" --ifaddr wg0=10.64.0.2 -- 'in on docker0 tcp 172.17.0.2:4000 > 10.64.0.2:22'
want pass "$T/order.rules" --ifaddr wg0=10.64.0.2 -- 'in on eth0 udp 192.168.1.1:67 > 192.168.1.10:68'

# 3. IPv6 neighbour discovery to and from any address; MLD reports out.
want pass "$EX/wireguard.rules" -- 'in on eth0 icmp6 2001:db8:1::1 > 2001:db8:1::10 type nd-neighbor-advert'
want pass "$EX/wireguard.rules" -- 'out on eth0 icmp6 2001:db8:1::10 > 2001:db8:1::1 type nd-neighbor-solicit'
want pass "$EX/wireguard.rules" -- 'out on eth0 icmp6 2001:db8:1::10 > 2001:db8:1::1 type nd-neighbor-advert'
want pass "$EX/wireguard.rules" -- 'in on eth0 icmp6 fe80::1 > ff02::1 type nd-router-advert'
want pass "$EX/wireguard.rules" -- 'out on eth0 icmp6 fe80::10 > ff02::16 type mld2-listener-report'
want pass "$EX/wireguard.rules" -- 'out on eth0 icmp6 :: > ff02::16 type mld2-listener-report'
want pass "$EX/wireguard.rules" -- 'out on eth0 icmp6 fe80::10 > ff02::2 type mld-listener-done'
printf 'killswitch {\n    tunnel wg0\n}\n' > "$T/nolan.rules"
want reject "$T/nolan.rules" -- 'out on eth0 icmp6 2001:db8:1::10 > ff02::16 type mld2-listener-report'
want pass "$T/nolan.rules" -- 'out on eth0 icmp6 fe80::10 > ff02::16 type mld2-listener-report'
want pass "$T/nolan.rules" -- 'in on eth0 icmp6 2001:db8:1::1 > 2001:db8:1::10 type nd-neighbor-advert'
want reject "$T/nolan.rules" -- 'out on eth0 icmp6 fe80::10 > ff02::1:3 type mld-listener-report'
want reject "$EX/wireguard.rules" -- 'out on eth0 icmp6 2001:db8:1::10 > 2001:db8:9::1 type echo-request'
want block "$EX/wireguard.rules" --ifaddr wg0=fd00::2 -- 'in on eth0 icmp6 fe80::1 > fd00::2 type nd-neighbor-solicit'

# 5. Endpoints: lists, tables, port lists and ranges; extra LAN ranges.
cat > "$T/ep.rules" <<'R'
table <vpn_servers> { 198.51.100.7 2001:db8::7 }
killswitch {
    tunnel wg0
    endpoint <vpn_servers> port { 51820 51900:51910 } proto udp
    endpoint { 192.0.2.1 192.0.2.2 } port https proto tcp
    allow lan 100.64.0.0/10
    allow bridge { docker0 virbr* }
}
R
want pass "$T/ep.rules" -- 'out on eth0 udp 192.168.1.10:4000 > 198.51.100.7:51820'
want pass "$T/ep.rules" -- 'out on eth0 udp [2001:db8::10]:4000 > [2001:db8::7]:51905'
want reject "$T/ep.rules" -- 'out on eth0 udp 192.168.1.10:4000 > 198.51.100.7:51899'
want reject "$T/ep.rules" -- 'out on eth0 tcp 192.168.1.10:4000 > 198.51.100.7:51820'
want pass "$T/ep.rules" -- 'out on eth0 tcp 192.168.1.10:4000 > 192.0.2.2:443'
want reject "$T/ep.rules" -- 'out on eth0 tcp 192.168.1.10:4000 > 192.0.2.3:443'
want pass "$T/ep.rules" -- 'out on tailscale0 iftype ether udp 100.101.1.2:41641 > 100.64.7.7:41641'
want pass "$T/ep.rules" -- 'in on eth0 tcp 100.64.7.7:4000 > 100.101.1.2:22'
want reject "$T/ep.rules" -- 'out on eth0 tcp 192.168.1.10:4000 > 93.184.216.34:80'
# bridge: a guest's traffic passes in and out through the tunnel only
want pass "$T/ep.rules" -- 'in on docker0 udp 172.17.0.2:4000 > 1.1.1.1:53'
want pass "$T/ep.rules" -- 'out on wg0 udp 172.17.0.2:4000 > 1.1.1.1:53'
want reject "$T/ep.rules" -- 'out on eth0 udp 172.17.0.2:4000 > 1.1.1.1:53'
want pass "$T/ep.rules" -- 'in on virbr0 udp 0.0.0.0:68 > 255.255.255.255:67'
want pass "$T/ep.rules" -- 'out on virbr0 udp 192.168.122.1:67 > 192.168.122.50:68'
want reject "$T/ep.rules" -- 'out on eth0 udp 192.168.122.50:4000 > 8.8.8.8:53'

# block drop / block return whatever the block-policy
cat > "$T/act.rules" <<'R'
set block-policy reject
block drop in on eth0 proto tcp to port 23
block return out on eth0 proto udp to port 9
block out on eth0 proto tcp to port 25
R
cat > "$T/act-drop.rules" <<'R'
set block-policy drop
block return out on eth0 proto udp to port 9
block out on eth0 proto tcp to port 25
R
want block "$T/act.rules" -- 'in on eth0 tcp 1.2.3.4:4000 > 10.0.0.1:23'
want reject "$T/act.rules" -- 'out on eth0 udp 10.0.0.1:4000 > 1.2.3.4:9'
want reject "$T/act.rules" -- 'out on eth0 tcp 10.0.0.1:4000 > 1.2.3.4:25'
want reject "$T/act-drop.rules" -- 'out on eth0 udp 10.0.0.1:4000 > 1.2.3.4:9'
want block "$T/act-drop.rules" -- 'out on eth0 tcp 10.0.0.1:4000 > 1.2.3.4:25'

# The expansion (check --expand) puts the drop second and says 'block drop'.
exp=$("$IFWALL" check --expand "$EX/openvpn.rules" 2>/dev/null | grep -v '^set ' | sed -n 2p)
case $exp in
"block drop in on !tun0 to (tun0)  #@ "*) pass "openvpn.rules: the drop is the second rule" ;;
*) fail "openvpn.rules: second expanded rule is '$exp'" ;;
esac

# 4. and 9. Warnings for every pass outside the tunnel, in or out, before
# or after the block.
cat > "$T/holes.rules" <<'R'
pass in on eth0 proto tcp to port 80
killswitch {
    tunnel wg0
}
pass in on eth0 proto tcp to port 22
pass out on eth0 proto tcp to port 443
pass in on wg0 proto tcp to port 22
R
err=$("$IFWALL" check "$T/holes.rules" 2>&1 >/dev/null)
for l in 1 5 6; do
	if echo "$err" | grep -q "holes.rules:$l:1: warning: .*hole in the kill switch"; then pass "hole warning at line $l"
	else fail "no hole warning at line $l: $err"; fi
done
if echo "$err" | grep -q "holes.rules:7:"; then fail "warning for a rule on the tunnel: $err"
else pass "no warning for a pass on the tunnel"; fi

# 6. A person's comment is never an origin.
cat > "$T/comments.rules" <<'R'
pass out on eth0 proto tcp to port 80  # OPS-1234:7
pass out on eth0 proto tcp to port 8080 # http:8080
R
got=$("$IFWALL" query "$T/comments.rules" 'out on eth0 tcp 10.0.0.1:4000 > 1.2.3.4:8080')
case $got in
"pass $T/comments.rules:2 "*) pass "comment '# http:8080' is not an origin" ;;
*) fail "comment read as an origin: $got" ;;
esac
got=$("$IFWALL" compile "$T/comments.rules" | grep -c 'OPS-1234')
[ "$got" -eq 0 ] && pass "compile comments name the file" || fail "compile comment from a user comment"
# the round trip of check's output stays byte for byte
"$IFWALL" check "$T/comments.rules" > "$T/c1.rules" 2>/dev/null
"$IFWALL" check "$T/c1.rules" > "$T/c2.rules" 2>/dev/null
cmp -s "$T/c1.rules" "$T/c2.rules" && pass "check output round trip" || fail "check output round trip differs"

# 7. What check accepts, compile loads; or check says where and why.
printf 'pass in from (wg0)\npass in on eth0 proto tcp to port 22 user 0\npass out on eth0 user 0\npass in on eth0 proto tcp to port 23 user 0\n' > "$T/limits.rules"
err=$("$IFWALL" check "$T/limits.rules" 2>&1 >/dev/null); rc=$?
for l in 2 4; do
	if [ $rc -eq 0 ] && echo "$err" | grep -q "limits.rules:$l:1: warning: the nft backend"; then pass "check warns of the nft limit at line $l"
	else fail "check: no located nft warning at line $l (exit $rc): $err"; fi
done
echo "$err" | grep -q "limits.rules:3:" && fail "warning for 'out ... user'" || pass "no warning for 'out ... user'"
echo "$err" | grep -q "limits.rules:1:" && fail "warning for '(IFSPEC)', which nft now compiles" || pass "no warning for '(IFSPEC)'"
err=$("$IFWALL" compile "$T/limits.rules" 2>&1 >/dev/null); rc=$?
if [ $rc -eq 2 ] && echo "$err" | grep -q "limits.rules:2:1: error:" && echo "$err" | grep -q "limits.rules:4:1: error:" \
	&& echo "$err" | grep -q '^\^~'; then pass "compile errors are located with a caret"
else fail "compile errors (exit $rc): $err"; fi

# The kill switch's own rules all compile (no warning from check).
for f in "$EX"/*.rules "$T/ep.rules" "$T/order.rules"; do
	err=$("$IFWALL" check "$f" 2>&1 >/dev/null)
	if echo "$err" | grep -q "nft backend"; then fail "$(basename "$f"): $err"; else pass "$(basename "$f"): compiles"; fi
	"$IFWALL" compile "$f" >/dev/null 2>&1 && pass "$(basename "$f"): compile" || fail "$(basename "$f"): compile failed"
done
exit $((FAILED > 0))
