#!/usr/bin/env bash
# ifwall compile (no root, no kernel): how each rule-language construct is
# expressed in table inet ifwall. tests/kernel/nft/t_load.sh checks that the script loads and
# equals what 'load' installs; this checks what it says.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../../.." && pwd)}
IFWALL=${IFWALL:-$TOP/build/ifwall}
WORK=$(mktemp -d /tmp/ifwnft-compile.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

cat >c.rules <<'RULES'
table <bad> { 192.0.2.0/24 2001:db8:bad::/48 }
set skip on lo
set block-policy reject
block out log to <bad>
block in from <bad>
pass out on wg* proto udp to any port 8000:8100
pass out on type tunnel all
pass in on type ether proto tcp to port { 22 443 }
pass in on !{ eth1 tun0 } proto icmp icmp-type echo-request
pass out to { 10.0.0.0/8 fd00::/8 }
reject out proto tcp to 1.2.3.4 port 25
pass out proto udp to 198.51.100.7 port 51820 user 0 mark 0xca6c
set default in drop
set default out reject
RULES
"$IFWALL" compile c.rules >c.nft 2>c.err; rc=$?
[ $rc -eq 0 ] || { echo "FAIL compile-ok: exit $rc: $(head -c 300 c.err)"; exit 0; }

# expect NAME PATTERN: a line of the script matches the extended regex
expect() {
	if grep -qE -- "$2" c.nft; then echo "PASS compile-$1"
	else echo "FAIL compile-$1: no line matches /$2/"; fi
}
count() {   # count NAME N PATTERN
	local n
	n=$(grep -cE -- "$3" c.nft)
	[ "$n" -eq "$2" ] && echo "PASS compile-$1 ($n)" || echo "FAIL compile-$1: $n lines match /$3/, want $2"
}
expect table-set-v4 '^	set bad_v4 \{$'
expect table-set-v6 '^	set bad_v6 \{$'
expect table-elements 'elements = \{ 192\.0\.2\.0/24 \}'
count table-shared 4 'ip6? daddr @bad_v[46] counter goto reject_packet comment "c\.rules:4"'
# 'log': a rule of its own before the verdict, rate-limited, to NFLOG group 27
count log-limited 4 'ip6? daddr @bad_v[46] limit rate 20/second burst 100 packets log prefix "ifwall c\.rules:4 out " group 27 comment "c\.rules:4"'
count block-policy-reject 4 'ip6? saddr @bad_v[46] counter goto reject_packet comment "c\.rules:5"'
expect skip 'iifname "lo" counter accept comment "skip"'
expect skip-forward-in 'iifname "lo" counter return comment "skip"'
expect prefix-wildcard '^		oifname "wg\*" meta l4proto 17 th dport 8000-8100 counter goto pass_out comment "c\.rules:6"'
expect type-tunnel 'meta oiftype \{ 512, 519, 768, 769, 776, 778, 823, 65534, 65535 \} counter goto pass_out comment "c\.rules:7"'
expect type-ether 'meta iiftype != \{ 512, 519, 768, 769, 772, 776, 778, 823, 65534, 65535 \} meta l4proto 6 th dport \{ 22, 443 \}'
expect negated-list 'iifname != "eth1" iifname != "tun0" meta nfproto ipv4 meta l4proto 1 icmp type 8 counter goto pass_in'
expect family-split-v4 'meta nfproto ipv4 ip daddr 10\.0\.0\.0/8 counter goto pass_out comment "c\.rules:10"'
expect family-split-v6 'meta nfproto ipv6 ip6 daddr fd00::/8 counter goto pass_out comment "c\.rules:10"'
expect reject 'ip daddr 1\.2\.3\.4 th dport 25 counter goto reject_packet comment "c\.rules:11"'
expect owner 'th dport 51820 meta skuid 0 meta mark 0x0000ca6c counter goto pass_out'
expect policy-in 'type filter hook input priority 0; policy drop;'
expect default-out 'counter goto reject_packet comment "default out"'
expect default-in 'counter drop comment "default in"'
expect state-check 'ct direction reply ct id \. iifname @state goto pass_in'
expect state-related 'ct state related ct id \. iifname @state accept'
expect state-related-forward-in 'ct state related ct id \. iifname @state return'
expect state-first-packet 'ct status & confirmed == 0 meta l4proto 6 update @state \{ ct id \. oifname timeout 121s \} accept'
expect state-follows-conntrack 'ct expiration <= 120s update @state \{ ct id \. oifname timeout 121s \} accept'
expect state-set-bounded '^		size 1048576$'
expect state-full-still-passes '^		return$'
expect reject-tcp 'meta l4proto 6 reject with tcp reset'
expect reject-other 'reject with icmpx type admin-prohibited'
expect forward-jump '^		jump forward_in$'

# '(IFSPEC)': named sets of the interfaces' addresses (given with --ifaddr
# here; the host's own otherwise), the engine's meaning in every position.
# The killswitch form also gets the guard for addresses that appear later.
cat >ks.rules <<'RULES'
killswitch {
    tunnel { wg0 tun* }
    endpoint 198.51.100.7 port 51820 proto udp
}
RULES
"$IFWALL" compile --ifaddr wg0=10.64.0.2,tun1=10.8.0.2,eth0=192.168.1.2,wg0=fd00::2 ks.rules >c.nft 2>c.err
expect ifaddr-set-v4 '^	set ifaddr_0_v4 \{$'
expect ifaddr-set-v4-elements '^		elements = \{ 10\.8\.0\.2, 10\.64\.0\.2 \}$'
expect ifaddr-set-v6-elements '^		elements = \{ fd00::2 \}$'
expect ifaddr-set-comment '^	# \(\{ wg0 tun\* \}\): the addresses of the interfaces matching it when compiled\.$'
expect ifaddr-all-elements '^		elements = \{ 10\.8\.0\.2, 10\.64\.0\.2, 192\.168\.1\.2 \}$'
count killswitch-exact 2 'iifname != "wg0" iifname != "tun\*" meta nfproto ipv4 ip daddr @ifaddr_0_v4 counter drop comment "ks\.rules:2"'
count killswitch-exact-v6 2 'iifname != "wg0" iifname != "tun\*" meta nfproto ipv6 ip6 daddr @ifaddr_0_v6 counter drop comment "ks\.rules:2"'
count killswitch-guard 1 'iifname != "wg0" iifname != "tun\*" meta nfproto ipv4 ip daddr != @ifaddr_all_v4 fib daddr type local fib daddr \. iif type != local counter drop comment "ks\.rules:2"'
count killswitch-guard-v6 1 'meta nfproto ipv6 ip6 daddr != @ifaddr_all_v6 fib daddr type local fib daddr \. iif type != local counter drop comment "ks\.rules:2"'
"$IFWALL" compile --ifaddr eth0=192.168.1.2 ks.rules >c.nft 2>c.err
count ifaddr-empty-set 4 '^	set ifaddr_0_v[46] \{$|^	set ifaddr_all_v6 \{$|^		elements = \{ 192\.168\.1\.2 \}$'

# once refused, now each compiles to its set: IFSPEC  RULE  PATTERN
ifspec_case() {
	echo "$2" >one.rules
	"$IFWALL" compile --ifaddr wg0=10.64.0.2,eth0=192.168.1.2 one.rules >c.nft 2>one.err; rc=$?
	if [ $rc -eq 0 ] && grep -qE -- "$3" c.nft; then echo "PASS compile-ifspec-$1: '$2'"
	else echo "FAIL compile-ifspec-$1: '$2': exit $rc, no line matches /$3/ $(head -c 200 one.err)"; fi
}
ifspec_case pass 'pass in on !wg0 to (wg0)' 'iifname != "wg0" meta nfproto ipv4 ip daddr @ifaddr_0_v4 counter goto pass_in comment'
ifspec_case out 'block out on !wg0 to (wg0)' 'oifname != "wg0" meta nfproto ipv4 ip daddr @ifaddr_0_v4 counter drop'
ifspec_case source 'pass out on eth0 from (eth0)' '^		elements = \{ 192\.168\.1\.2 \}$'
ifspec_case source-rule 'pass out on eth0 from (eth0)' 'oifname "eth0" meta nfproto ipv4 ip saddr @ifaddr_0_v4 counter goto pass_out'
ifspec_case negated 'block in to !(wg0)' '^		elements = \{ 192\.168\.1\.2 \}$'
ifspec_case other-ifspec 'block in on !eth0 to (wg0)' 'iifname != "eth0" meta nfproto ipv4 ip daddr @ifaddr_0_v4 counter drop'
echo 'block in on !eth0 to (wg0)' >one.rules
"$IFWALL" compile one.rules >c.nft 2>/dev/null
count no-guard-outside-killswitch-form 0 'fib daddr'
# a table named like the sets keeps its own set name
printf 'table <ifaddr_0> { 192.0.2.1 }\nblock in from <ifaddr_0>\nblock in from (wg0)\n' >one.rules
"$IFWALL" compile --ifaddr wg0=10.64.0.2 one.rules >c.nft 2>/dev/null
count table-name-no-clash 1 '^	set ifaddr_0_v4 \{$'
exit 0
