#!/usr/bin/env bash
# replay --ifaddr: the kill switch's CVE-2019-14899 rule 'block in on !wg0
# to (wg0)' needs the tunnel's address. In this capture a probe to it
# arrives on eth0 before the tunnel sent anything, so replay cannot have
# learned it: without --ifaddr the probe falls to the default (blocked, but
# by no rule), with --ifaddr wg0=10.64.0.2 (and for IPv6) the CVE rule
# blocks it. With 'allow lan' the difference is the verdict: without
# --ifaddr the LAN peer's probe passes ('pass in from 192.168.0.0/16'),
# with it the CVE rule (which comes first) blocks it. A probe to another
# address is untouched by --ifaddr.
set -u
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	echo "SKIP replay-ifaddr: /usr/bin/python3 cannot import scapy"
	exit 0
fi
d=$(mktemp -d /tmp/ifw-replay-ifaddr.XXXXXX)
trap 'rm -rf "$d"' EXIT
cp "$TOP/tests/golden/replay/ks.rules" "$d/ks.rules"
printf 'killswitch {\n    tunnel wg0\n    endpoint 198.51.100.7 port 51820 proto udp\n    allow lan\n}\n' >"$d/lan.rules"
/usr/bin/python3 - "$TOP/tests/golden/replay" "$d/probe.pcap" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import capture as cap
from scapy.all import IP, IPv6, TCP
frames = [
    # 1. probe to the tunnel address arriving on eth0 (index 2)
    cap.sll2(bytes(IP(src='192.168.1.1', dst='10.64.0.2') / TCP(sport=4444, dport=80, flags='S')), 2, cap.PACKET_HOST),
    # 2. the same over IPv6
    cap.sll2(bytes(IPv6(src='fe80::1', dst='fd00::2') / TCP(sport=4445, dport=80, flags='S')), 2, cap.PACKET_HOST),
    # 3. a probe to the LAN address (not the tunnel's)
    cap.sll2(bytes(IP(src='192.168.1.1', dst='192.168.1.2') / TCP(sport=4446, dport=80, flags='S')), 2, cap.PACKET_HOST),
    # 4. only then the tunnel sends from its address
    cap.sll2(bytes(IP(src='10.64.0.2', dst='1.1.1.1') / TCP(sport=5000, dport=443, flags='S')), 5, cap.PACKET_OUTGOING),
]
cap.write_pcap(sys.argv[2], cap.LINUX_SLL2, [(1000 + i, f) for i, f in enumerate(frames)])
PY
cd "$d" || exit 1
check() { # NAME DST-PORT WANT OUTPUT
	local line
	line=$(grep -E ":$2 " <<<"$4" | head -1)
	if [[ $line == *"$3"* ]]; then echo "PASS replay-ifaddr: $1: $line"
	else echo "FAIL replay-ifaddr: $1: want '$3' in the flow line, got '$line'"; fi
}
# The flow lines name each flow by its source port.
without=$("$IFWALL" replay --ifmap 2=eth0,5=wg0 ks.rules probe.pcap 2>&1)
with=$("$IFWALL" replay --ifmap 2=eth0,5=wg0 --ifaddr wg0=10.64.0.2,wg0=fd00::2 ks.rules probe.pcap 2>&1)
echo "$with" | sed 's/^/# /'
check "v4 probe to the tunnel address, no --ifaddr: default" 4444 "default" "$without"
check "v6 probe to the tunnel address, no --ifaddr: default" 4445 "default" "$without"
check "v4 probe to the tunnel address, --ifaddr: CVE rule" 4444 "ks.rules:3" "$with"
check "v6 probe to the tunnel address, --ifaddr: CVE rule" 4445 "ks.rules:3" "$with"
check "probe to the LAN address, --ifaddr: still default" 4446 "default" "$with"
without=$("$IFWALL" replay --ifmap 2=eth0,5=wg0 lan.rules probe.pcap 2>&1)
with=$("$IFWALL" replay --ifmap=2=eth0,5=wg0 --ifaddr=wg0=10.64.0.2 lan.rules probe.pcap 2>&1)
check "allow lan, LAN probe to the tunnel address, no --ifaddr: passes" 4444 "pass in eth0" "$without"
check "allow lan, LAN probe to the tunnel address, --ifaddr: CVE rule blocks" 4444 "block in eth0 tcp 192.168.1.1:4444 > 10.64.0.2:80 1 packets 40 bytes lan.rules:2" "$with"
check "allow lan, LAN probe to the LAN address, --ifaddr: passes" 4446 "pass in eth0" "$with"
if "$IFWALL" replay --ifaddr wg0 ks.rules probe.pcap >/dev/null 2>"$d/err"; then
	echo "FAIL replay-ifaddr: --ifaddr without an address accepted"
elif [ $? -eq 2 ] && grep -q -- '--ifaddr' "$d/err"; then
	echo "PASS replay-ifaddr: malformed --ifaddr exits 2: $(head -1 "$d/err")"
else
	echo "FAIL replay-ifaddr: malformed --ifaddr: $(cat "$d/err")"
fi
