#!/usr/bin/env bash
# ifwall query: a table of packet descriptions with the exact line query
# must print for each, against small rule files (tests/golden/query/*.rules), then
# --json, the error exits and -h.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
cd "$TOP/tests/golden/query" || exit 1
TMPDIR_Q=$(mktemp -d /tmp/ifw-query.XXXXXX)
trap 'rm -rf "$TMPDIR_Q"' EXIT
TEST_PREFIX="query: "

# run_table DIR: reads "RULES | PACKET DESCRIPTION | EXPECTED OUTPUT LINE"
# rows (blank and '#' lines ignored) and runs query in DIR for each.
run_table() {
	local dir=$1 rules desc want got rc
	while IFS='|' read -r rules desc want; do
		rules=$(echo "$rules" | sed 's/^ *//; s/ *$//'); desc=$(echo "$desc" | sed 's/^ *//; s/ *$//')
		want=$(echo "$want" | sed 's/^ *//; s/ *$//')
		[ -z "$rules" ] || [ "${rules:0:1}" = "#" ] && continue
		got=$(cd "$dir" && "$IFWALL" query "$rules" "$desc" 2>&1)
		rc=$?
		if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then pass "$rules '$desc'"
		else fail "$rules '$desc': exit $rc, got '$got', want '$want'"; fi
	done
}

run_table "$TOP/tests/golden/query" <<'TABLE'
# IPv4: first match, block under 'set block-policy reject' is reject
q4.rules | out on wg0 udp 10.0.0.2:5000 > 8.8.8.8:53 | pass q4.rules:3 pass out on wg0 all
q4.rules | out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53 | reject q4.rules:4 block out proto udp to any port 53
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 93.184.216.34:443 | pass q4.rules:5 pass out on eth0 inet proto tcp to any port { 80 443 }
q4.rules | out on eth0 tcp 192.168.1.10:40000>93.184.216.34:80 | pass q4.rules:5 pass out on eth0 inet proto tcp to any port { 80 443 }
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 93.184.216.34:8443 | reject default
q4.rules | out on eth0 tcp [2001:db8::1]:40000 > [2001:db8::2]:443 | reject default
# icmp type names and numbers
q4.rules | in on eth0 icmp 1.2.3.4 > 192.168.1.10 type echo-request | pass q4.rules:6 pass in on eth0 proto icmp all icmp-type echo-request
q4.rules | in on eth0 icmp 1.2.3.4 > 192.168.1.10 type 8 | pass q4.rules:6 pass in on eth0 proto icmp all icmp-type echo-request
q4.rules | out on eth0 icmp 192.168.1.10 > 1.1.1.1 type echo-request | reject q4.rules:7 block out on eth0 proto icmp all icmp-type echo-request
q4.rules | out on eth0 icmp 192.168.1.10 > 1.1.1.1 type echo-reply | reject default
q4.rules | in on eth0 icmp 1.2.3.4 > 192.168.1.10 | reject default
# user and mark: unknown never match, given match
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:22 | reject default
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:22 user 1000 | pass q4.rules:8 pass out proto tcp to any port 22 user 1000
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:22 user 0 | reject default
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:25 | reject default
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:25 mark 0xca6c | pass q4.rules:9 pass out proto tcp to any port 25 mark 0xca6c
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:25 mark 51820 user 5 | pass q4.rules:9 pass out proto tcp to any port 25 mark 0xca6c
q4.rules | out on eth0 tcp 192.168.1.10:40000 > 10.1.1.1:25 mark 1 | reject default
# interface types: guessed from the name unless iftype is given
q4.rules | out on vpn0 udp 10.0.0.2:1 > 1.1.1.1:2 | reject default
q4.rules | out on vpn0 iftype tunnel udp 10.0.0.2:1 > 1.1.1.1:2 | pass q4.rules:10 pass out on type tunnel all
q4.rules | out on tun3 udp 10.0.0.2:1 > 1.1.1.1:2 | pass q4.rules:10 pass out on type tunnel all
q4.rules | out on tun3 iftype ether udp 10.0.0.2:1 > 1.1.1.1:2 | reject default
q4.rules | out on vpn0 udp 10.0.0.2:1 > 1.1.1.1:2 iftype tunnel | pass q4.rules:10 pass out on type tunnel all
q4.rules | out on tun3 udp 10.0.0.2:1 > 1.1.1.1:2 mark 1 iftype ether | reject default
q4.rules | out on wg1 47 10.0.0.2 > 1.1.1.1 | pass q4.rules:10 pass out on type tunnel all
# reject rules and the inbound default
q4.rules | in on eth0 tcp 1.2.3.4:1000 > 192.168.1.10:23 | reject q4.rules:11 reject in on eth0 proto tcp to any port 23
q4.rules | in on eth0 tcp 1.2.3.4:1000 > 192.168.1.10:8080 | pass q4.rules:12 pass in on eth0 proto tcp to any port 8080
q4.rules | in on eth1 tcp 1.2.3.4:1000 > 192.168.1.10:8080 | reject default
# IPv6 with ports, icmp6 names, skip, default pass
q6.rules | in on eth0 tcp [2001:db8::5]:5000 > [2001:db8:1::1]:22 | block q6.rules:4 block in on eth0 inet6 proto tcp from 2001:db8::/32 to any port 22
q6.rules | in on eth0 tcp [2001:db9::5]:5000 > [2001:db8:1::1]:22 | pass default
q6.rules | in on eth1 tcp [2001:db8::5]:5000 > [2001:db8:1::1]:22 | pass default
q6.rules | out on wg0 udp [fd00::2]:5000 > [fd00::53]:53 | block q6.rules:5 block out inet6 proto udp to fd00::53 port 53
q6.rules | out on wg0 udp [fd00::2]:5000 > [fd00::54]:53 | pass default
q6.rules | in on eth0 icmp6 fe80::1 > fe80::2 type nd-neighbor-solicit | pass q6.rules:6 pass in inet6 proto icmp6 all icmp6-type { nd-neighbor-solicit nd-neighbor-advert }
q6.rules | in on eth0 icmp6 fe80::1 > fe80::2 type 136 | pass q6.rules:6 pass in inet6 proto icmp6 all icmp6-type { nd-neighbor-solicit nd-neighbor-advert }
q6.rules | in on eth0 icmp6 fe80::1 > fe80::2 type echo-request | block q6.rules:7 block in inet6 proto icmp6 all
q6.rules | in on lo tcp 127.0.0.1:1 > 127.0.0.1:22 | pass skip
q6.rules | in on lo icmp6 ::1 > ::1 type echo-request | pass skip
q6.rules | out on eth0 tcp 10.0.0.2:1 > 10.1.2.3:1500 | block q6.rules:8 block out on eth0 inet proto tcp to 10.0.0.0/8 port 1000:2000
q6.rules | out on eth0 tcp 10.0.0.2:1 > 10.1.2.3:2000 | block q6.rules:8 block out on eth0 inet proto tcp to 10.0.0.0/8 port 1000:2000
q6.rules | out on eth0 tcp 10.0.0.2:1 > 10.1.2.3:2001 | pass default
q6.rules | out on eth0 udp 10.0.0.2:1 > 10.1.2.3:1500 | pass default
TABLE

# The example rule files, as shipped.
run_table "$TOP" <<'TABLE'
# wireguard.rules: the kill switch
rules/examples/wireguard.rules | out on wg0 tcp 10.64.0.2:40000 > 93.184.216.34:443 | pass rules/examples/wireguard.rules:16 pass out on wg0 all
rules/examples/wireguard.rules | out on eth0 tcp 192.168.1.10:40000 > 93.184.216.34:443 | reject default
rules/examples/wireguard.rules | out on eth0 tcp [2001:db8::10]:40000 > [2001:db8:1::1]:443 | reject default
rules/examples/wireguard.rules | out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53 | reject rules/examples/wireguard.rules:21 reject out proto { tcp udp } to any port 53
rules/examples/wireguard.rules | out on wg0 udp 10.64.0.2:5353 > 1.1.1.1:53 | reject rules/examples/wireguard.rules:21 reject out proto { tcp udp } to any port 53
rules/examples/wireguard.rules | out on wg0 udp 10.64.0.2:5353 > 10.64.0.1:53 | pass rules/examples/wireguard.rules:21 pass out on wg0 proto { tcp udp } to 10.64.0.1 port 53
rules/examples/wireguard.rules | out on eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 | reject default
rules/examples/wireguard.rules | out on eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 mark 0xca6c | pass rules/examples/wireguard.rules:20 pass out proto udp to 198.51.100.7 port 51820 mark 0xca6c
rules/examples/wireguard.rules | out on eth0 tcp 192.168.1.10:41000 > 198.51.100.7:51820 mark 0xca6c | reject default
rules/examples/wireguard.rules | out on eth0 tcp 192.168.1.10:40000 > 192.168.1.1:80 | pass rules/examples/wireguard.rules:22 pass out to { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }
rules/examples/wireguard.rules | out on eth0 udp 0.0.0.0:68 > 255.255.255.255:67 | pass rules/examples/wireguard.rules:23 pass out inet proto udp from any port 68 to any port 67
rules/examples/wireguard.rules | out on eth0 icmp6 fe80::1 > ff02::2 type nd-router-solicit | pass rules/examples/wireguard.rules:15 pass inet6 proto icmp6 all icmp6-type { nd-router-solicit nd-router-advert nd-neighbor-solicit nd-neighbor-advert nd-redirect }
rules/examples/wireguard.rules | out on lo tcp 127.0.0.1:1 > 127.0.0.1:2 | pass rules/examples/wireguard.rules:15 pass on type loopback all
rules/examples/wireguard.rules | in on wg0 tcp 203.0.113.5:1000 > 10.64.0.2:22 | pass rules/examples/wireguard.rules:27 pass in on wg0 proto tcp to any port 22
rules/examples/wireguard.rules | in on eth0 tcp 203.0.113.5:1000 > 192.168.1.10:22 | block default
rules/examples/wireguard.rules | in on eth0 tcp 203.0.113.5:1000 > 10.64.0.2:22 | block default
# openvpn.rules: user criteria, block-policy reject does not touch 'default in drop'
rules/examples/openvpn.rules | out on eth0 udp 192.168.1.10:40000 > 203.0.113.10:1194 user 0 | pass rules/examples/openvpn.rules:14 pass out proto udp to 203.0.113.10 port 1194 user root
rules/examples/openvpn.rules | out on eth0 udp 192.168.1.10:40000 > 203.0.113.10:1194 user root | pass rules/examples/openvpn.rules:14 pass out proto udp to 203.0.113.10 port 1194 user root
rules/examples/openvpn.rules | out on eth0 udp 192.168.1.10:40000 > 203.0.113.10:1194 user 1000 | reject default
rules/examples/openvpn.rules | out on eth0 udp 192.168.1.10:40000 > 203.0.113.10:1194 | reject default
rules/examples/openvpn.rules | in on tun0 icmp 10.8.0.1 > 10.8.0.2 type echo-request | pass rules/examples/openvpn.rules:22 pass in on tun0 inet proto icmp all icmp-type echo-request
rules/examples/openvpn.rules | in on eth0 icmp 192.168.1.1 > 192.168.1.10 type echo-request | block default
rules/examples/openvpn.rules | out on tun0 udp [fd00:8::2]:5000 > [fd00:8::1]:53 | pass rules/examples/openvpn.rules:17 pass out on tun0 proto { tcp udp } to { 10.8.0.1 fd00:8::1 } port 53
# lan-server.rules: tables, labels, skip, block under block-policy reject
rules/examples/lan-server.rules | in on eth0 tcp 192.168.1.20:50000 > 192.168.1.10:443 | pass rules/examples/lan-server.rules:14 pass in proto tcp from <lan> to any port { 22 80 443 } label "lan services"
rules/examples/lan-server.rules | in on eth0 tcp 8.8.8.8:50000 > 192.168.1.10:22 | reject rules/examples/lan-server.rules:19 block in log all
rules/examples/lan-server.rules | in on eth0 icmp6 fe80::1 > fe80::2 type packet-too-big | pass rules/examples/lan-server.rules:16 pass in inet6 proto icmp6 from <lan> icmp6-type { echo-request packet-too-big }
rules/examples/lan-server.rules | in on lo tcp 127.0.0.1:1 > 127.0.0.1:22 | pass skip
rules/examples/lan-server.rules | out on eth0 udp 192.168.1.10:1 > 8.8.8.8:53 | pass rules/examples/lan-server.rules:20 pass out all
# blocklist.rules: default pass
rules/examples/blocklist.rules | out on eth0 tcp 10.0.0.2:1 > 203.0.113.66:443 | block rules/examples/blocklist.rules:9 block out log to <blocklist> label "blocklist"
rules/examples/blocklist.rules | in on eth0 tcp [2001:db8::1]:1 > [fd00::1]:22 | block rules/examples/blocklist.rules:10 block in log from <blocklist> label "blocklist"
rules/examples/blocklist.rules | out on eth0 tcp 10.0.0.2:1 > 8.8.8.8:443 | pass default
TABLE

# Several descriptions: one line each, in order.
got=$("$IFWALL" query q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' 'in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1')
want=$'pass q4.rules:3 pass out on wg0 all\nreject default'
[ "$got" = "$want" ] && pass "two descriptions" || fail "two descriptions: got '$got'"

# --json
got=$("$IFWALL" query --json q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' 'in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1' 'in on lo udp 1.1.1.1:2 > 10.0.0.2:1')
want='{"verdict":"pass","rule":"q4.rules:3","text":"pass out on wg0 all","packet":"out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2"}
{"verdict":"reject","rule":"default","text":null,"packet":"in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1"}
{"verdict":"reject","rule":"default","text":null,"packet":"in on lo udp 1.1.1.1:2 > 10.0.0.2:1"}'
[ "$got" = "$want" ] && pass "--json" || fail "--json: got '$got'"
# Options may follow RULES and the descriptions (as for check and load);
# after '--' everything is RULES and descriptions.
got=$("$IFWALL" query q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' --json 'in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1' 'in on lo udp 1.1.1.1:2 > 10.0.0.2:1')
[ "$got" = "$want" ] && pass "--json after the descriptions" || fail "--json after the descriptions: got '$got'"
got=$("$IFWALL" query -- q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2')
[ "$got" = "pass q4.rules:3 pass out on wg0 all" ] && pass "-- before RULES" || fail "-- before RULES: got '$got'"
got=$("$IFWALL" query --json q6.rules 'in on lo udp 1.1.1.1:2 > 10.0.0.2:1')
[ "$got" = '{"verdict":"pass","rule":"skip","text":null,"packet":"in on lo udp 1.1.1.1:2 > 10.0.0.2:1"}' ] &&
	pass "--json skip" || fail "--json skip: got '$got'"

# Invalid descriptions: exit 2, the message names the description, nothing on stdout.
while IFS= read -r desc; do
	out=$("$IFWALL" query q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' "$desc" 2>"$TMPDIR_Q/err")
	rc=$?
	if [ "$rc" -eq 2 ] && [ -z "$out" ] && grep -qF -- "$desc" "$TMPDIR_Q/err"; then
		pass "invalid '$desc'"
	else
		fail "invalid '$desc': exit $rc, stdout '$out', stderr '$(cat "$TMPDIR_Q/err")'"
	fi
done <<'BAD'
sideways on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2
out eth0 tcp 1.1.1.1:1 > 2.2.2.2:2
out on eth0 tcpx 1.1.1.1:1 > 2.2.2.2:2
out on eth0 tcp 1.1.1.1:1 2.2.2.2:2
out on eth0 tcp 1.1.1.300:1 > 2.2.2.2:2
out on eth0 tcp 1.1.1.1:65536 > 2.2.2.2:2
out on eth0 tcp 1.1.1.1:1 > [fd00::1]:2
out on eth0 tcp fd00::1:1 > [fd00::2
out on eth0 icmp 1.1.1.1:1 > 2.2.2.2
out on eth0 icmp 1.1.1.1 > 2.2.2.2 type bogus
out on eth0 udp 1.1.1.1:1 > 2.2.2.2:2 type echo-request
out on eth0 icmp6 1.1.1.1 > 2.2.2.2
out on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2 mark
out on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2 mark 0x100000000
out on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2 user 1 user 2
out on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2 extra
out on averyveryverylongname tcp 1.1.1.1:1 > 2.2.2.2:2
out on eth0 iftype wifi tcp 1.1.1.1:1 > 2.2.2.2:2
out on eth0 iftype ether tcp 1.1.1.1:1 > 2.2.2.2:2 iftype ether
out on eth0 tcp 1.1.1.1:1 > 2.2.2.2:2 iftype
out on eth0 256 1.1.1.1 > 2.2.2.2
BAD

# The message gives the column, and a caret under it.
"$IFWALL" query q4.rules 'out on eth0 tcpx 1.1.1.1:1 > 2.2.2.2:2' >/dev/null 2>"$TMPDIR_Q/err"
want="ifwall query: invalid packet description 'out on eth0 tcpx 1.1.1.1:1 > 2.2.2.2:2': column 13: unknown protocol 'tcpx' (tcp, udp, icmp, icmp6 or 0-255)
  out on eth0 tcpx 1.1.1.1:1 > 2.2.2.2:2
              ^"
[ "$(cat "$TMPDIR_Q/err")" = "$want" ] && pass "error column and caret" ||
	fail "error column and caret: got '$(cat "$TMPDIR_Q/err")'"
"$IFWALL" query q4.rules 'out on eth0 tcp 1.1.1.1:1 > [fd00::1]:2' >/dev/null 2>"$TMPDIR_Q/err"
head -1 "$TMPDIR_Q/err" | grep -q "column 29: source is IPv4 but destination is IPv6$" &&
	pass "error family mismatch" || fail "error family mismatch: $(head -1 "$TMPDIR_Q/err")"

# An empty description, and an invalid rule file: exit 2 with diagnostics.
"$IFWALL" query q4.rules '' >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && pass "empty description" || fail "empty description: exit $rc"
printf 'pass out on wg0 all\nbogus rule here\n' >"$TMPDIR_Q/bad.rules"
"$IFWALL" query "$TMPDIR_Q/bad.rules" 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' >/dev/null 2>"$TMPDIR_Q/err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q 'bad.rules:2:[0-9]*: error' "$TMPDIR_Q/err"; then pass "invalid rule file"
else fail "invalid rule file: exit $rc: $(cat "$TMPDIR_Q/err")"; fi
"$IFWALL" query q4.rules >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && pass "usage without packet" || fail "usage without packet: exit $rc"
"$IFWALL" query --bogus q4.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && pass "unknown option" || fail "unknown option: exit $rc"
out=$("$IFWALL" query -h); rc=$?
[ "$rc" -eq 0 ] && [[ $out == Usage:* ]] && pass "-h" || fail "-h: exit $rc"
[ "$FAILED" -eq 0 ]
