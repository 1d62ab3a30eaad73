#!/usr/bin/env bash
# replay of several captures (issue 11, item 9): one engine, one flow table,
# packets in timestamp order across the files (ties keep the order given);
# FILE@IFNAME names the interface of a capture that names none (a file
# whose own name has an '@' is taken whole when it exists); '-' is standard
# input, and pipes work (each capture is opened once).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	echo "SKIP replay-merge: /usr/bin/python3 cannot import scapy"
	exit 0
fi
d=$(mktemp -d /tmp/ifw-replay-merge.XXXXXX)
trap 'rm -rf "$d"' EXIT
cp "$TOP/tests/golden/replay/ks.rules" "$d/ks.rules"
/usr/bin/python3 - "$TOP/tests/golden/replay" "$d" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import capture as cap
from scapy.all import IP, TCP, UDP, Raw
d = sys.argv[2]
T = 1700000000
WG, ETH, WEB, PEER = '10.66.0.2', '192.168.1.10', '93.184.216.34', '198.51.100.7'
syn = IP(src=WG, dst=WEB) / TCP(sport=40001, dport=80, flags='S')
synack = IP(src=WEB, dst=WG) / TCP(sport=80, dport=40001, flags='SA')
ack = IP(src=WG, dst=WEB) / TCP(sport=40001, dport=80, flags='A')
hs = IP(src=ETH, dst=PEER) / UDP(sport=41000, dport=51820) / Raw(b'h' * 20)
# Per-interface captures of one session: the tunnel's (raw IP, in two
# files as 'dumpcap -b' rotates them: the SYN-ACK is in the second) and
# the physical interface's (Ethernet), whose handshake comes first.
cap.write_pcap(os.path.join(d, 'wg0.pcap'), cap.RAW,
               [(T + 2, bytes(syn)), (T + 4, bytes(ack))])
cap.write_pcap(os.path.join(d, 'wg0-reply.pcap'), cap.RAW, [(T + 3, bytes(synack))])
cap.write_pcap(os.path.join(d, 'eth0.pcap'), cap.EN10MB, [(T + 1, cap.ether(bytes(hs)))])
# Timestamps equal across files: the first file's packet first.
cap.write_pcap(os.path.join(d, 'tie-a.pcap'), cap.RAW, [(T + 5, bytes(IP(src=WG, dst='1.1.1.1') / UDP(sport=1, dport=2)))])
cap.write_pcap(os.path.join(d, 'tie-b.pcap'), cap.RAW, [(T + 5, bytes(IP(src=WG, dst='1.1.1.2') / UDP(sport=3, dport=4)))])
# A file whose name has an '@'
cap.write_pcap(os.path.join(d, 'x@wg0.pcap'), cap.RAW, [(T, bytes(syn))])
PY
cd "$d" || exit 1
TEST_PREFIX="replay-merge: "
flows() { grep -vE '^(summary|leak):' <<<"$1" | sed -E 's/ [0-9]+ bytes / /'; }

# Merged by timestamp: eth0's handshake (t+1) is the first flow, though
# given second; the tunnel flow spans two files, and its SYN-ACK (t+3,
# 'in' by --local, given first) comes after its SYN (t+2): in file order
# it would be an unsolicited packet in, blocked, a flow of its own.
out=$("$IFWALL" replay --local 10.66.0.0/24,192.168.1.0/24 ks.rules wg0-reply.pcap@wg0 eth0.pcap@eth0 wg0.pcap@wg0 2>&1); rc=$?
want="pass out eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 1 packets ks.rules:4
pass out wg0 tcp 10.66.0.2:40001 > 93.184.216.34:80 3 packets ks.rules:3"
if [ $rc -eq 0 ] && [ "$(flows "$out")" = "$want" ]; then pass "merged by timestamp, FILE@IFNAME"
else fail "merged by timestamp: exit $rc, got: $out"; fi
if tail -1 <<<"$out" | grep -qx 'summary: 4 packets, 2 flows, 2 passed, 0 blocked, 0 undecodable'; then
	pass "one summary for both captures"
else fail "summary: $(tail -1 <<<"$out")"; fi
# --leaks over the merged captures: the handshake on eth0
out=$("$IFWALL" replay --leaks '!wg0' ks.rules wg0-reply.pcap@wg0 eth0.pcap@eth0 wg0.pcap@wg0 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q '^leak: pass out eth0 udp' <<<"$out"; then pass "--leaks over merged captures"
else fail "--leaks over merged captures: exit $rc: $out"; fi
# Ties keep the order given
a=$("$IFWALL" replay ks.rules tie-a.pcap@wg0 tie-b.pcap@wg0 2>&1 | head -1)
b=$("$IFWALL" replay ks.rules tie-b.pcap@wg0 tie-a.pcap@wg0 2>&1 | head -1)
if [[ $a == *"> 1.1.1.1"* && $b == *"> 1.1.1.2"* ]]; then pass "equal timestamps keep the order given"
else fail "ties: '$a' / '$b'"; fi
# Standard input and a pipe, each with and without @IFNAME
out=$("$IFWALL" replay ks.rules - <wg0.pcap 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^reject out eth0 tcp 10.66.0.2:40001' <<<"$out"; then pass "'-' reads standard input (--iface default eth0)"
else fail "'-': exit $rc: $out"; fi
out=$("$IFWALL" replay --local 10.66.0.0/24 ks.rules -@wg0 eth0.pcap@eth0 wg0-reply.pcap@wg0 <wg0.pcap 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(flows "$out")" = "$(printf '%s\n' "pass out eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 1 packets ks.rules:4" "pass out wg0 tcp 10.66.0.2:40001 > 93.184.216.34:80 3 packets ks.rules:3")" ]; then
	pass "'-@wg0' with a file"
else fail "'-@wg0': exit $rc: $out"; fi
out=$("$IFWALL" replay --local 10.66.0.0/24 ks.rules <(cat wg0.pcap)@wg0 <(cat eth0.pcap)@eth0 <(cat wg0-reply.pcap)@wg0 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '3 packets' <<<"$out"; then pass "pipes (<(cat x.pcap)) are opened once"
else fail "pipes: exit $rc: $out"; fi
out=$("$IFWALL" replay --iface wg0 ks.rules <(cat wg0.pcap) 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^pass out wg0 tcp' <<<"$out"; then pass "a pipe without @IFNAME"
else fail "a pipe: exit $rc: $out"; fi
out=$(cat eth0.pcap | "$IFWALL" replay ks.rules - 2>&1); rc=$?
if [ $rc -eq 0 ]; then pass "a pipe on standard input"; else fail "stdin pipe: exit $rc: $out"; fi
out=$("$IFWALL" replay ks.rules - - <wg0.pcap 2>&1); rc=$?
if [ $rc -eq 2 ]; then pass "'-' twice: usage error"; else fail "'-' twice: exit $rc: $out"; fi
# A file name with an '@' that exists is that file
out=$("$IFWALL" replay --iface eth0 ks.rules x@wg0.pcap 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^reject out eth0 tcp' <<<"$out"; then pass "an existing file named x@wg0.pcap is a file"
else fail "x@wg0.pcap: exit $rc: $out"; fi
out=$("$IFWALL" replay ks.rules x@wg0.pcap@wg0 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^pass out wg0 tcp' <<<"$out"; then pass "x@wg0.pcap@wg0"
else fail "x@wg0.pcap@wg0: exit $rc: $out"; fi
out=$("$IFWALL" replay ks.rules missing.pcap@wg0 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q 'missing.pcap' <<<"$out"; then pass "missing FILE@IFNAME exits 2"
else fail "missing FILE@IFNAME: exit $rc: $out"; fi
out=$("$IFWALL" replay ks.rules wg0.pcap@ 2>&1); rc=$?
if [ $rc -eq 2 ]; then pass "FILE@ without a name exits 2"; else fail "FILE@: exit $rc: $out"; fi
# A bad capture among good ones: nothing is printed, exit 2
printf 'not a capture' >bad.pcap
out=$("$IFWALL" replay ks.rules wg0.pcap bad.pcap 2>/dev/null); rc=$?
if [ $rc -eq 2 ] && [ -z "$out" ]; then pass "a bad capture among several: exit 2, nothing printed"
else fail "bad among several: exit $rc: $out"; fi
