#!/usr/bin/env bash
# One rule file, several enforcing backends, the same verdicts: a generated
# set of connections (both interfaces, both families, TCP and UDP, out of a
# and into it) through the divert backend and through the nft backend
# ('ifwall load'), compared connection by connection; and the outgoing ones
# through the tun backend, from a client namespace t whose only way out is
# ifwall's TUN pair in a.
source "$(dirname "$0")/lib.sh"
divert_require_root backends-divert-vs-nft backends-divert-vs-tun

# The nft backend takes '(IFSPEC)' only in the killswitch's own rule.
RULES=$TMP/backends.rules
grep -v '(veth2)' "$TOP/tests/kernel/divert/verdicts.rules" >"$RULES"
divert_topology
start_peer b tcp:53,54,80,81,82,83,5353,8080 udp:53,54,80,81,82,83,5353,8080
start_peer c tcp:53,54,80,81,82,83,5353,8080 udp:53,54,80,81,82,83,5353,8080
start_peer a tcp:22,23

out_specs= in_b= in_c=
for dst in 10.1.0.2 10.2.0.2 [fd01::2] [fd02::2]; do
	for port in 53 54 80 81 82 83 5353 8080; do out_specs="$out_specs tcp:$dst:$port udp:$dst:$port"; done
done
for port in 22 23; do
	in_b="$in_b tcp:10.1.0.1:$port tcp:[fd01::1]:$port"
	in_c="$in_c tcp:10.2.0.1:$port tcp:[fd02::1]:$port"
done
probe_all() { # LABEL: verdicts of every connection, one "NS SPEC VERDICT" a line
	{
		probe a 1.5 $out_specs | sed 's/^/a /' &
		probe b 1.5 $in_b | sed 's/^/b /' &
		probe c 1.5 $in_c | sed 's/^/c /' &
		wait
	} | awk '{print $1, $2, $3}' | sort >"$TMP/$1.verdicts"
}

start_divert a "$RULES" || { fail backends-divert-vs-nft "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
probe_all divert
stop_quietly "$DIVERT_PID"
# A stopped divert leaves its table (fail closed); flush opens.
in_ns a "$IFWALL" flush

if ! in_ns a "$IFWALL" load "$RULES" 2>"$TMP/load.err"; then
	fail backends-divert-vs-nft "ifwall load failed: $(cat "$TMP/load.err")"
	exit 0
fi
probe_all nft
in_ns a "$IFWALL" flush

# tun: the same connections from t, routed by a.
ip netns add "$(ns t)"
in_ns t ip link set lo up
in_ns b ip -6 route add default via fd01::1
in_ns c ip -6 route add default via fd02::1
ip netns exec "$(ns a)" "$IFWALL" run --backend tun --netns "$(ns t)" --prefix 100.64.0.0/30 \
	--prefix fd64::/126 "$RULES" >/dev/null 2>"$TMP/tun.err" &
tun_pid=$!
CLEANUP+=("stop_quietly $tun_pid")
tun_up() { in_ns t ip route show default 2>/dev/null | grep -q ifw0; }
if ! wait_for 20 tun_up; then
	fail backends-divert-vs-tun "tun backend did not come up: $(cat "$TMP/tun.err")"
	tun_pid=
else
	tun6_up() { in_ns t ip -6 route show default 2>/dev/null | grep -q ifw0; }
	wait_for 20 tun6_up
	probe t 1.5 $out_specs | sed 's/^/a /' | awk '{print $1, $2, $3}' | sort >"$TMP/tun.verdicts"
	stop_quietly "$tun_pid"
fi

n=$(wc -l <"$TMP/divert.verdicts")
kinds=$(awk '{print $3}' "$TMP/divert.verdicts" | sort -u | tr '\n' ' ')
diffs=$(join -j1 <(awk '{print $1"/"$2, $3}' "$TMP/divert.verdicts") <(awk '{print $1"/"$2, $3}' "$TMP/nft.verdicts") |
	awk '$2 != $3 {printf "%s: divert %s, nft %s; ", $1, $2, $3}')
if [ "$n" -eq 72 ] && [ "$kinds" = "block pass reject " ] && [ -z "$diffs" ]; then
	pass backends-divert-vs-nft
else
	fail backends-divert-vs-nft "${diffs:-$n connections, verdicts seen: $kinds}"
fi
if [ -n "$tun_pid" ]; then
	n=$(wc -l <"$TMP/tun.verdicts")
	diffs=$(join -j1 <(awk '$1 == "a" {print $1"/"$2, $3}' "$TMP/divert.verdicts") <(awk '{print $1"/"$2, $3}' "$TMP/tun.verdicts") |
		awk '$2 != $3 {printf "%s: divert %s, tun %s; ", $1, $2, $3}')
	if [ "$n" -eq 64 ] && [ -z "$diffs" ]; then pass backends-divert-vs-tun
	else fail backends-divert-vs-tun "${diffs:-$n connections}"; fi
fi
