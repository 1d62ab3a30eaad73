#!/usr/bin/env bash
# replay's option hygiene (issue 11, item 11): a repeated --ifmap index is
# a usage error; --local with host bits set is an error as in rule files;
# --ifaddr takes ADDR/LEN as 'ifwall interfaces' prints it (replay and
# query share the option); a capture that cannot be read for lack of
# permission exits 3 (cli.md: system error), a missing or corrupt one 2.
set -u
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	echo "SKIP replay-options: /usr/bin/python3 cannot import scapy"
	exit 0
fi
d=$(mktemp -d /tmp/ifw-replay-options.XXXXXX)
trap 'rm -rf "$d"' EXIT
chmod 755 "$d"
cp "$TOP/tests/golden/replay/ks.rules" "$d/ks.rules"
chmod 644 "$d/ks.rules"
/usr/bin/python3 - "$TOP/tests/golden/replay" "$d/probe.pcap" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import capture as cap
from scapy.all import IP, TCP
# a probe to the tunnel's address arriving on eth0 (index 2)
cap.write_pcap(sys.argv[2], cap.LINUX_SLL2, [(1000, cap.sll2(bytes(
    IP(src='192.168.1.1', dst='10.64.0.2') / TCP(sport=4444, dport=80, flags='S')), 2, cap.PACKET_HOST))])
PY
chmod 644 "$d/probe.pcap"
cd "$d" || exit 1
expect() { # NAME WANT-EXIT GREP-IN-OUTPUT COMMAND...
	local name=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		echo "PASS replay-options: $name"
	else
		echo "FAIL replay-options: $name: want exit $want and /$pat/, got exit $rc: $(head -3 <<<"$out")"
	fi
}
expect "--ifmap index given twice: usage error" 2 "index 2 given twice" \
	"$IFWALL" replay --ifmap 2=eth0,2=wg0 ks.rules probe.pcap
expect "--ifmap index given twice over two options" 2 "given twice" \
	"$IFWALL" replay --ifmap 2=eth0 --ifmap 2=wg0 ks.rules probe.pcap
expect "--ifmap distinct indexes" 0 "^block in eth0 tcp" \
	"$IFWALL" replay --ifmap 2=eth0,5=wg0 ks.rules probe.pcap
expect "--local with host bits: error naming the network" 2 "host bits set \(did you mean 10.0.0.0/8\?\)" \
	"$IFWALL" replay --local 10.0.0.1/8 ks.rules probe.pcap
expect "--local IPv6 with host bits" 2 "host bits set \(did you mean fd00::/64\?\)" \
	"$IFWALL" replay --local 10.0.0.0/8,fd00::1/64 ks.rules probe.pcap
expect "--local network and host address" 0 "^summary: 1 packets" \
	"$IFWALL" replay --local 10.0.0.0/8,192.168.1.10,fd00::/64 ks.rules probe.pcap
expect "--ifaddr NAME=ADDR/LEN as 'interfaces' prints it" 0 \
	"^block in eth0 tcp 192.168.1.1:4444 > 10.64.0.2:80 1 packets 40 bytes ks.rules:3" \
	"$IFWALL" replay --ifmap 2=eth0 --ifaddr wg0=10.64.0.2/32 ks.rules probe.pcap
expect "--ifaddr with a subnet length (host bits are an interface's)" 0 "ks.rules:3$" \
	"$IFWALL" replay --ifmap 2=eth0 --ifaddr wg0=10.64.0.2/24,wg0=fd00::2/64 ks.rules probe.pcap
expect "--ifaddr length too long" 2 "invalid address '10.64.0.2/33'" \
	"$IFWALL" replay --ifaddr wg0=10.64.0.2/33 ks.rules probe.pcap
expect "--ifaddr length not a number" 2 "--ifaddr" \
	"$IFWALL" replay --ifaddr wg0=10.64.0.2/x ks.rules probe.pcap
expect "query --ifaddr NAME=ADDR/LEN" 0 "^block .*ks.rules:3" \
	"$IFWALL" query --ifaddr wg0=10.64.0.2/32 ks.rules "in on eth0 tcp 192.168.1.1:4444 > 10.64.0.2:80"
expect "missing capture: exit 2" 2 "missing.pcap" \
	"$IFWALL" replay ks.rules missing.pcap
printf 'garbage, not a capture' >corrupt.pcap
expect "not a capture: exit 2" 2 "corrupt.pcap" \
	"$IFWALL" replay ks.rules corrupt.pcap
expect "a directory: exit 2" 2 "Is a directory" \
	"$IFWALL" replay ks.rules .
# Permission: as nobody (root reads anything)
if [ "$(id -u)" -ne 0 ]; then as_user=
elif command -v setpriv >/dev/null; then as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
else as_user=skip; fi
if [ "$as_user" = skip ] || ! $as_user test -x "$IFWALL"; then
	echo "SKIP replay-options: permission: needs setpriv and an ifwall nobody can run"
else
	cp probe.pcap secret.pcap
	chmod 000 secret.pcap
	expect "capture without read permission: exit 3" 3 "secret.pcap: .*Permission denied" \
		$as_user "$IFWALL" replay ks.rules secret.pcap
	expect "capture without read permission, FILE@IFNAME: exit 3" 3 "Permission denied" \
		$as_user "$IFWALL" replay ks.rules probe.pcap secret.pcap@wg0
	expect "readable capture as the same user: exit 0" 0 "^summary: " \
		$as_user "$IFWALL" replay ks.rules probe.pcap
fi
