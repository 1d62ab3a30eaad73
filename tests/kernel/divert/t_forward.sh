#!/usr/bin/env bash
# Forwarded packets are decided twice, 'in' on the ingress interface and
# then 'out' on the egress one; both must pass (rules.md, Model). Host a
# routes between b (veth0) and c (veth2).
source "$(dirname "$0")/lib.sh"
divert_require_root forward-verdicts forward-log-both-sides

cat >"$TMP/r.rules" <<'R'
pass in on veth0 proto tcp to 10.2.0.2 port { 80 81 }
pass out on veth2 proto tcp to 10.2.0.2 port { 80 82 }
R
divert_topology
in_ns a sysctl -qw net.ipv4.ip_forward=1
start_peer b tcp:80
start_peer c tcp:80,81,82,83
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail forward-verdicts "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

got=$(probe b 1 tcp:10.2.0.2:80 tcp:10.2.0.2:81 tcp:10.2.0.2:82 tcp:10.2.0.2:83 | awk '{printf "%s ", $2}')
back=$(probe c 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ "$got$back" = "pass block block block block" ]; then pass forward-verdicts
else fail forward-verdicts "b->c 80..83: $got; c->b 80: $back (want pass block block block; block)"; fi

# 81: in passes by rule 1, out falls to the default; 82: in is refused by
# the default, so out is never asked.
if /usr/bin/python3 - "$TMP/log.json" "$TMP/r.rules" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
def first(dport):
    seen = []
    for o in log:
        if o["dport"] == dport and (o["sport"], o["dir"]) not in [(s["sport"], s["dir"]) for s in seen]:
            if seen and o["sport"] != seen[0]["sport"]:
                break
            seen.append(o)
    return [(o["dir"], o["iface"], o["verdict"], o["rule"]) for o in seen]
r = sys.argv[2]
assert first(80) == [("in", "veth0", "pass", r + ":1"), ("out", "veth2", "pass", r + ":2")], first(80)
assert first(81) == [("in", "veth0", "pass", r + ":1"), ("out", "veth2", "block", "default")], first(81)
assert first(82) == [("in", "veth0", "block", "default")], first(82)
PY
then pass forward-log-both-sides; else fail forward-log-both-sides "$(cat "$TMP/log.json")"; fi
