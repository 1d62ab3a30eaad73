#!/usr/bin/env bash
# Nothing bypasses the engine: packets conntrack does not track ('notrack'
# in another table), on output, input and forward, and ICMP errors that
# belong to no flow, go through the rules like everything else. An allowed
# untracked exchange still works.
source "$(dirname "$0")/lib.sh"
divert_require_root nobypass-untracked-out nobypass-untracked-allowed nobypass-untracked-forward \
	nobypass-untracked-in nobypass-icmp-error-no-flow

cat >"$TMP/r.rules" <<'R'
pass out proto udp to 10.1.0.2 port 53
pass in on veth0 proto udp to port 5353
R
divert_topology
in_ns a sysctl -qw net.ipv4.ip_forward=1
# Another table (a 'notrack' setup, as some hosts have for DNS or
# high-rate UDP): these packets get no conntrack entry.
in_ns a nft -f - <<'NFT'
table inet ifwdivnotrack {
	chain pre { type filter hook prerouting priority raw; udp dport { 53, 9999, 5353, 5354 } notrack; udp sport { 53, 9999 } notrack; }
	chain out { type filter hook output priority raw; udp dport { 53, 9999 } notrack; udp sport { 5353, 5354 } notrack; }
}
NFT
# What arrives, counted after ifwall's chains (priority 0).
count_table() { # NS: a counter of udp dport 9999 / 5353 / 5354 and of ICMP errors on input and forward
	in_ns "$1" nft -f - <<'NFT'
table inet ifwdivcount {
	chain in { type filter hook input priority 0; udp dport 9999 counter; icmp type destination-unreachable counter; udp dport 5353 counter; udp dport 5354 counter; }
	chain forw { type filter hook forward priority 0; udp dport 9999 counter; }
}
NFT
}
counters() { in_ns "$1" nft list table inet ifwdivcount | grep -o 'packets [0-9]*' | awk '{printf "%s ", $2}'; }
count_table a; count_table b; count_table c
start_peer b udp:53,9999
start_peer c udp:9999
start_peer a udp:5353,5354
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail nobypass-untracked-out "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

# Output: the rules do not allow udp 9999; the untracked datagram must not
# reach b.
v=$(probe a 1 udp:10.1.0.2:9999 | awk '{print $2}')
got=$(counters b | awk '{print $1}')
if [ "$v" = block ] && [ "$got" = 0 ]; then pass nobypass-untracked-out
else fail nobypass-untracked-out "udp 9999 from a: $v, datagrams at b: $got (want block, 0)"; fi

v=$(probe a 1 udp:10.1.0.2:53 | awk '{print $2}')
if [ "$v" = pass ]; then pass nobypass-untracked-allowed
else fail nobypass-untracked-allowed "untracked udp 53 (allowed) from a: $v (want pass)"; fi

# Forward: b -> c through a, untracked in a.
v=$(probe b 1 udp:10.2.0.2:9999 | awk '{print $2}')
got=$(counters c | awk '{print $1}')
if [ "$v" = block ] && [ "$got" = 0 ]; then pass nobypass-untracked-forward
else fail nobypass-untracked-forward "udp 9999 b->c through a: $v, datagrams at c: $got (want block, 0)"; fi

# Input: untracked datagrams to a's 5353 (allowed in on veth0) and 5354
# (not allowed).
probe b 1 udp:10.1.0.1:5353 udp:10.1.0.1:5354 >"$TMP/in.out"
c=$(counters a)
in5353=$(awk '{print $3}' <<<"$c"); in5354=$(awk '{print $4}' <<<"$c")
if [ "$in5353" -ge 1 ] && [ "$in5354" = 0 ]; then pass nobypass-untracked-in
else fail nobypass-untracked-in "untracked datagrams delivered to a: 5353 (allowed) $in5353, 5354 (not allowed) $in5354 (want >= 1, 0)"; fi

# An ICMP error about a flow that never existed, from b to a: conntrack
# finds no flow for it (invalid); the rules pass no ICMP in.
before=$(counters a | awk '{print $2}')
in_ns b /usr/bin/python3 - <<'PY'
from scapy.all import IP, ICMP, UDP, send
inner = IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=40000, dport=40001)
send(IP(src="10.1.0.2", dst="10.1.0.1") / ICMP(type=3, code=3) / bytes(inner)[:28], verbose=False)
PY
sleep 0.3
after=$(counters a | awk '{print $2}')
if [ "$before" = 0 ] && [ "$after" = 0 ] && grep -q '"proto":"icmp".*"icmp_type":3' "$TMP/log.json"; then
	pass nobypass-icmp-error-no-flow
else
	fail nobypass-icmp-error-no-flow "ICMP errors delivered to a: $before before, $after after (want 0, decided by the engine)"
fi
