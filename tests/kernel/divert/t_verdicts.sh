#!/usr/bin/env bash
# Divert verdicts on real connections equal the rule file's: a generated set
# of TCP connects and UDP exchanges, allowed and blocked, on two interfaces,
# both families and both directions, each checked against the expected
# verdict and deciding rule, against 'ifwall query', and against the log.
# Blocked and rejected connections put no SYN on the wire; rejected ones
# fail fast with ECONNREFUSED; every log line is JSON naming the rule.
source "$(dirname "$0")/lib.sh"
divert_require_root verdicts no-syn-on-wire reject-is-fast log-json query-agrees generated-query-agrees capabilities

RULES=$TOP/tests/kernel/divert/verdicts.rules
divert_topology
start_peer b tcp:80,81,82,83,443,8080 udp:53,54,5353
start_peer c tcp:80,81,82,83,443,8080 udp:53,54,5353
start_peer a tcp:22,23
ip netns exec "$(ns b)" tcpdump -i veth1 -n -U --immediate-mode -w "$TMP/wire.pcap" 'tcp[tcpflags] & tcp-syn != 0 or ip6[40+13] & 2 != 0 or udp dst port 9' 2>"$TMP/tcpdump.err" &
tcpdump_pid=$!   # ip netns exec execs: this is tcpdump
CLEANUP+=("kill $tcpdump_pid")
wait_for 20 grep -q listening "$TMP/tcpdump.err"
start_divert a --log "$TMP/log.json" "$RULES" || { fail verdicts "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

# NS SPEC VERDICT RULE-LINE|default [noquery: '(IFSPEC)' needs live addresses]
cases="a tcp:10.1.0.2:80 pass 2
a tcp:10.1.0.2:8080 pass 2
a tcp:10.1.0.2:81 reject 3
a tcp:10.1.0.2:82 block 4
a tcp:10.1.0.2:83 block default
a tcp:10.2.0.2:80 block default
a tcp:10.2.0.2:81 pass 5
a tcp:10.2.0.2:82 pass 5
a tcp:[fd01::2]:80 pass 6
a tcp:[fd01::2]:81 reject 7
a tcp:[fd01::2]:82 block 4
a tcp:[fd02::2]:81 pass 5
a udp:10.1.0.2:53 pass 8
a udp:10.1.0.2:5353 reject 9
a udp:10.2.0.2:5353 reject 9
a udp:10.2.0.2:54 pass 10
a udp:10.1.0.2:54 block default
a udp:[fd01::2]:53 block default
a tcp:10.2.0.2:443 pass 11 noquery
a tcp:10.1.0.2:443 block default noquery
b tcp:10.1.0.1:22 pass 13
b tcp:10.1.0.1:23 block default
c tcp:10.2.0.1:22 block default
c tcp:10.2.0.1:23 reject 14"

for n in a b c; do
	specs=$(awk -v n=$n '$1 == n {print $2}' <<<"$cases")
	probe $n 1.5 $specs >"$TMP/probe-$n.out" &
done
wait_probes() { for n in a b c; do [ -s "$TMP/probe-$n.out" ] || return 1; done; }
wait_for 20 wait_probes
# logged FILE...: the log has a line for every probe in probe.py's output FILEs
logged() { local sport; for sport in $(awk '{print $4}' "$@"); do grep -q "\"sport\":$sport," "$TMP/log.json" || return 1; done; }
wait_for 20 logged "$TMP"/probe-[abc].out

# The packet description 'ifwall query' takes for a probe seen from a.
describe() { # NS SPEC SPORT
	/usr/bin/python3 - "$@" <<'PY'
import sys
ns, spec, sport = sys.argv[1], sys.argv[2], sys.argv[3]
kind, rest = spec.split(":", 1)
host, port = rest.rsplit(":", 1)
host = host.strip("[]")
v6 = ":" in host
net = {"10.1": ("veth0", "10.1.0.", "fd01::"), "10.2": ("veth2", "10.2.0.", "fd02::"),
       "fd01": ("veth0", "10.1.0.", "fd01::"), "fd02": ("veth2", "10.2.0.", "fd02::")}
iface, p4, p6 = net[host.split(":")[0] if v6 else ".".join(host.split(".")[:2])]
def ep(a, p): return "[%s]:%s" % (a, p) if v6 else "%s:%s" % (a, p)
if ns == "a":   # out: local .1 -> remote .2
    print("out on %s %s %s > %s" % (iface, kind, ep((p6 if v6 else p4) + "1", sport), ep(host, port)))
else:           # in: peer .2 -> local .1
    print("in on %s %s %s > %s" % (iface, kind, ep((p6 if v6 else p4) + "2", sport), ep(host, port)))
PY
}

query_works=1
"$IFWALL" query "$RULES" 'out on veth0 tcp 10.1.0.1:1 > 10.1.0.2:80' >/dev/null 2>&1 || query_works=
bad= badq= badlog= fast_bad=
while read -r n spec want line extra; do
	got=$(grep -F "$spec " "$TMP/probe-$n.out")
	read -r _ verdict ms sport <<<"$got"
	[ "$verdict" = "$want" ] || bad="$bad $n:$spec=$verdict(want $want)"
	if [ "$want" = reject ] && ! awk -v ms="$ms" 'BEGIN{exit !(ms < 300)}'; then fast_bad="$fast_bad $spec:${ms}ms"; fi
	where=$([ "$line" = default ] && echo default || echo "$RULES:$line")
	# The log line of this flow (first one; blocked SYNs are retried).
	dport=${spec##*:}
	logline=$(/usr/bin/python3 -c '
import json, sys
proto, rest = sys.argv[4].split(":", 1)
dst = rest.rsplit(":", 1)[0].strip("[]")
for l in open(sys.argv[1]):
    o = json.loads(l)
    if (str(o["sport"]), str(o["dport"]), o["proto"], o["dst"]) == (sys.argv[2], sys.argv[3], proto, dst):
        print(o["verdict"], o["rule"]); break' "$TMP/log.json" "$sport" "$dport" "$spec")
	[ "$logline" = "$want $where" ] || badlog="$badlog $n:$spec=[$logline](want $want $where)"
	if [ -n "$query_works" ] && [ "$extra" != noquery ]; then
		q=$("$IFWALL" query "$RULES" "$(describe $n "$spec" "$sport")" 2>&1)
		read -r qv qwhere _ <<<"$q"
		[ "$qv $qwhere" = "$want $where" ] || badq="$badq $n:$spec=[$q]"
	fi
done <<<"$cases"
if [ -z "$bad" ]; then pass verdicts; else fail verdicts "$bad"; fi
if [ -z "$fast_bad" ]; then pass reject-is-fast; else fail reject-is-fast "$fast_bad"; fi
if [ -z "$query_works" ]; then fail query-agrees "ifwall query refused a description of veth0"
elif [ -z "$badq" ]; then pass query-agrees; else fail query-agrees "$badq"; fi

# Every log line is one JSON object with the fields of cli.md; each flow's
# first line names the rule that decided it.
if /usr/bin/python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    o = json.loads(l)
    for k in ("time", "verdict", "dir", "iface", "proto", "src", "sport", "dst", "dport", "rule"):
        assert k in o, (k, l)
    assert o["verdict"] in ("pass", "block", "reject") and o["dir"] in ("in", "out"), l
    n += 1
assert n >= 24, n' "$TMP/log.json" && [ -z "$badlog" ]; then pass log-json
else fail log-json "${badlog:-malformed log line in $(head -c 2000 "$TMP/log.json")}"; fi

# On the wire (b's side): the passed SYNs, and none of the blocked or
# rejected connections.
stop_capture b 10.1.0.1 "$TMP/wire.pcap" "$tcpdump_pid"
wire=$(tcpdump -r "$TMP/wire.pcap" -n 2>/dev/null)
seen() { grep -Ec "> $1\.$2: Flags \[S\]" <<<"$wire"; }
if [ "$(seen 10.1.0.2 80)" -ge 1 ] && [ "$(seen fd01::2 80)" -ge 1 ] &&
   [ "$(seen 10.1.0.2 81)$(seen 10.1.0.2 82)$(seen 10.1.0.2 83)$(seen 10.1.0.2 443)$(seen fd01::2 81)$(seen fd01::2 82)" = 000000 ]; then
	pass no-syn-on-wire
else
	fail no-syn-on-wire "SYNs seen at b: $(grep -Eo '> [^ ]+: Flags \[S\]' <<<"$wire" | sort | uniq -c | tr '\n' ';')"
fi

# A generated set: every combination of interface, family, protocol and
# port below, from a; the expected verdict and rule are what 'ifwall query'
# says (port 443 is left out: its rules use '(IFSPEC)', which query cannot
# know).
if [ -z "$query_works" ]; then fail generated-query-agrees "ifwall query refused a description of veth0"
else
	specs=
	for dst in 10.1.0.2 10.2.0.2 [fd01::2] [fd02::2]; do
		for port in 53 54 80 81 82 83 5353 8080; do
			specs="$specs tcp:$dst:$port udp:$dst:$port"
		done
	done
	probe a 1.5 $specs >"$TMP/gen.out"
	[ -n "${VERBOSE:-}" ] && awk '{print $2}' "$TMP/gen.out" | sort | uniq -c >&2
	descs=() wants=()
	while read -r spec verdict ms sport; do
		descs+=("$(describe a "$spec" "$sport")")
	done <"$TMP/gen.out"
	"$IFWALL" query "$RULES" "${descs[@]}" >"$TMP/gen.query" 2>&1
	wait_for 20 logged "$TMP/gen.out"
	badg=$(/usr/bin/python3 - "$TMP/gen.out" "$TMP/gen.query" "$TMP/log.json" <<'PY'
import json, sys
probes = [l.split() for l in open(sys.argv[1])]
queries = [l.split()[:2] for l in open(sys.argv[2])]
log = [json.loads(l) for l in open(sys.argv[3])]
bad = []
assert len(probes) == len(queries) == 64, (len(probes), len(queries))
for (spec, got, _, sport), (qv, qrule) in zip(probes, queries):
    proto, rest = spec.split(":", 1)
    dst, dport = rest.rsplit(":", 1)
    key = (int(sport), int(dport), proto, dst.strip("[]"))
    first = next((o for o in log if (o["sport"], o["dport"], o["proto"], o["dst"]) == key), None)
    logged = (first["verdict"], first["rule"]) if first else None
    if got != qv or logged != (qv, qrule):
        bad.append("%s: wire %s, log %s, query %s %s" % (spec, got, logged, qv, qrule))
print("; ".join(bad))
PY
)
	if [ -z "$badg" ]; then pass generated-query-agrees; else fail generated-query-agrees "$badg"; fi
fi

# After setup only CAP_NET_ADMIN (bit 12) is left.
eff=$(awk '/^CapEff/{print $2}' /proc/$DIVERT_PID/status 2>/dev/null)
bnd=$(awk '/^CapBnd/{print $2}' /proc/$DIVERT_PID/status 2>/dev/null)
if [ "$eff" = 0000000000001000 ] && [ "$bnd" = 0000000000001000 ]; then pass capabilities
else fail capabilities "CapEff=$eff CapBnd=$bnd (want 0000000000001000)"; fi
