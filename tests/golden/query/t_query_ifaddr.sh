#!/usr/bin/env bash
# query --ifaddr: the kill switch's CVE-2019-14899 rule 'block in on !wg0
# to (wg0)' matches a probe to the tunnel's address arriving on eth0 only
# when query knows that address. With 'allow lan' the verdict differs: the
# LAN peer's probe passes without --ifaddr and is blocked by the CVE rule
# with it. Malformed --ifaddr values exit 2.
set -u
d=$(mktemp -d /tmp/ifw-query-ifaddr.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
printf 'killswitch {\n    tunnel wg0\n    endpoint 198.51.100.7 port 51820 proto udp\n    allow lan\n}\n' >lan.rules
v4='in on eth0 tcp 192.168.1.1:4444 > 10.64.0.2:80'
v6='in on eth0 tcp [fe80::1]:4444 > [fd00::2]:80'
lan='in on eth0 tcp 192.168.1.1:4444 > 192.168.1.2:80'
tun='in on wg0 tcp 1.1.1.1:4444 > 10.64.0.2:80'
expect() { # NAME WANT ARGS...
	local name=$1 want=$2 got
	shift 2
	got=$("$IFWALL" query "$@" 2>&1)
	if [ "$got" = "$want" ]; then echo "PASS query-ifaddr: $name: $got"
	else echo "FAIL query-ifaddr: $name: got '$got', want '$want'"; fi
}
expect "v4 probe, no --ifaddr: passes (allow lan)" "pass lan.rules:4 pass in from { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }" lan.rules "$v4"
expect "v4 probe, --ifaddr: CVE rule" "block lan.rules:2 block drop in on !wg0 to (wg0)" --ifaddr wg0=10.64.0.2 lan.rules "$v4"
expect "v6 probe, --ifaddr=: CVE rule" "block lan.rules:2 block drop in on !wg0 to (wg0)" --ifaddr=wg0=10.64.0.2,wg0=fd00::2 lan.rules "$v6"
expect "probe to the LAN address, --ifaddr: passes" "pass lan.rules:4 pass in from { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }" --ifaddr wg0=10.64.0.2 lan.rules "$lan"
expect "same address on the tunnel itself, --ifaddr: not the CVE rule" "block default" --ifaddr wg0=10.64.0.2 lan.rules "$tun"
got=$("$IFWALL" query --json --ifaddr wg0=10.64.0.2 lan.rules "$v4")
if [[ $got == *'"rule":"lan.rules:2"'* ]]; then echo "PASS query-ifaddr: --json with --ifaddr"; else echo "FAIL query-ifaddr: --json: $got"; fi
for bad in wg0 =10.0.0.1 wg0=10.0.0.300 'wg0=10.0.0.1,eth0' averyveryverylongname=10.0.0.1; do
	"$IFWALL" query --ifaddr "$bad" lan.rules "$v4" >/dev/null 2>err; rc=$?
	if [ $rc -eq 2 ] && grep -q -- '--ifaddr' err; then echo "PASS query-ifaddr: '$bad' exits 2"
	else echo "FAIL query-ifaddr: '$bad': exit $rc: $(cat err)"; fi
done
"$IFWALL" query --ifaddr >/dev/null 2>err; rc2=$?
if [ $rc2 -eq 2 ]; then echo "PASS query-ifaddr: missing value exits 2"; else echo "FAIL query-ifaddr: missing value: exit $rc2"; fi
