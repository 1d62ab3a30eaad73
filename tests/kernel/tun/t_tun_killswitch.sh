#!/usr/bin/env bash
# A kill switch enforced by the tun backend: the client reaches the world
# only while the host routes its traffic through the tunnel (wg0); the LAN
# exception; unsolicited connections toward the client. Every outcome as
# 'ifwall query' predicts for the interface the host would use.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun-ks
trap cleanup EXIT
topology || { fail tun-ks/topology "could not build the namespaces"; exit 0; }

rules=$TUNLOG/ks.rules
cat >"$rules" <<'RULES'
killswitch {
    tunnel wg0
    allow lan
}
pass in on eth0 proto tcp from 198.51.100.1 to any port 8080
RULES

if ! start_ifwall "$rules"; then
	fail tun-ks/start "$(cat "$TUNLOG/err")"; exit 0
fi

# Out: through the tunnel, to the LAN (10.1.0.2 behind eth0), elsewhere.
for dst in 192.0.2.1 10.1.0.2 198.51.100.1; do
	query_agrees "$rules" 100.64.0.2 $dst
done

# In: connections the far ends open toward the client, from their
# non-LAN addresses. The client serves on 8080; E reaches it via eth0
# (passed by the last rule), W via wg0 (nothing passes 'in' unsolicited
# there: the kill switch's default drops it).
in_ns $NS_C $PY "$PEER" serve C 100.64.0.2 >/dev/null 2>&1 &
wait_serving $NS_C 1
for from in E W; do
	if [ $from = E ]; then ns=$NS_E src=198.51.100.1 ifname=eth0; else ns=$NS_W src=192.0.2.1 ifname=wg0; fi
	desc="in on $(host_if $ifname) tcp $src:40000 > 100.64.0.2:8080"
	verdict=$("$IFWALL" query "$rules" "$desc" | awk '{print $1}')
	want=$(predicted tcp "$verdict")
	got=$(in_ns $ns $PY "$PEER" tcp 100.64.0.2 8080 "$(answer_timeout "$want")" $src)
	got=${got%% *}
	if [ "$got" = "$want" ]; then pass "tun-ks/inbound-from-$from-$verdict"
	else fail "tun-ks/inbound-from-$from" "query '$desc' says '$verdict', so want $want, got $got"; fi
done

# The tunnel goes away (its route with it): the client falls back to the
# default route via eth0, and the kill switch rejects at once.
in_ns $NS_H ip route del 192.0.2.0/24
expect tun-ks/tunnel-down-rejected refused client tcp 192.0.2.1 8080 10
in_ns $NS_H ip route add 192.0.2.0/24 via 10.2.0.2 dev wg0
expect tun-ks/tunnel-back-passes "ok W" client tcp 192.0.2.1 8080 10

# The log names the killswitch's lines.
if /usr/bin/python3 - "$TUNLOG/log.json" "$rules" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rules = {l['rule'] for l in lines if 'verdict' in l}
assert sys.argv[2] + ':2' in rules, rules  # 'tunnel wg0': pass out on wg0
assert 'default' in rules, rules
PY
then pass tun-ks/log-names-rules; else fail tun-ks/log-names-rules "see $TUNLOG/log.json"; fi
exit 0
