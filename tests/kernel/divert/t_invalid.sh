#!/usr/bin/env bash
# Packets conntrack calls invalid cannot carry a flow decision; divert must
# not let them leave around the engine (fail closed). A TCP segment with
# SYN+FIN+RST, sent through a raw socket where the rules block everything
# on veth0, must not reach the wire; the same kind of packet on veth2
# (which the rules pass) is dropped too, while a valid flow there works.
source "$(dirname "$0")/lib.sh"
divert_require_root invalid-not-on-wire invalid-valid-flow-still-passes

printf 'block out on veth0 all\npass out on veth2 all\n' >"$TMP/r.rules"
divert_topology
start_peer c tcp:80
ip netns exec "$(ns b)" tcpdump -i veth1 -n -U --immediate-mode -w "$TMP/b.pcap" 'tcp or udp dst port 9' 2>"$TMP/tcpdump.err" &
tcpdump_pid=$!
CLEANUP+=("kill $tcpdump_pid")
wait_for 20 grep -q listening "$TMP/tcpdump.err"
start_divert a "$TMP/r.rules" || { fail invalid-not-on-wire "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
# A raw IP socket (not scapy's packet socket, which no netfilter hook sees).
in_ns a /usr/bin/python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for sport in range(40000, 40010):
    # SYN+FIN+RST: conntrack refuses the combination (ct state invalid).
    hdr = struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 5 << 4, 0x07, 1024, 0, 0)
    try:
        s.sendto(hdr, ("10.1.0.2", 0))
    except PermissionError:  # dropped by netfilter: what we want
        pass
PY
stop_capture b 10.1.0.1 "$TMP/b.pcap" "$tcpdump_pid"
n=$(tcpdump -r "$TMP/b.pcap" -n tcp 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then pass invalid-not-on-wire
else fail invalid-not-on-wire "$n invalid packets left through veth0, which the rules block"; fi
if probe a 2 tcp:10.2.0.2:80 | grep -q " pass "; then pass invalid-valid-flow-still-passes
else fail invalid-valid-flow-still-passes "a valid connection through veth2 failed"; fi
