#!/usr/bin/env bash
# The bundled real capture (tests/data/killswitch-demo.pcap, recorded by
# tests/data/record-demo.sh) replayed against rules/examples/wireguard.rules:
# every flow of interest gets its expected verdict and deciding rule.
set -u
cd "$TOP" || exit 1
CAP=tests/data/killswitch-demo.pcap
RULES=rules/examples/wireguard.rules
IFMAP=$(cat tests/data/killswitch-demo.ifmap)
tmp=$(mktemp -d /tmp/ifw-demo-replay.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$IFWALL" replay --ifmap "$IFMAP" "$RULES" "$CAP" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && echo "PASS demo replay exit 0" || echo "FAIL demo replay: exit $rc: $(cat "$tmp/err")"

# expect NAME REGEX: exactly one flow line matches
expect() {
	local n
	n=$(grep -cE "^$2 [0-9]+ packets [0-9]+ bytes $3\$" "$tmp/out")
	if [ "$n" -eq 1 ]; then echo "PASS demo flow: $1"
	else echo "FAIL demo flow: $1: $n lines match '$2 ... $3'"; fi
}
P='[0-9]+'
expect "DNS to the tunnel resolver passes on wg0" \
	"pass out wg0 udp 10\.66\.0\.2:$P > 10\.64\.0\.1:53" "$RULES:21"
expect "HTTP through the tunnel passes" \
	"pass out wg0 tcp 10\.66\.0\.2:$P > 93\.184\.216\.34:80" "$RULES:16"
expect "ping through the tunnel passes" \
	"pass out wg0 icmp 10\.66\.0\.2 > 93\.184\.216\.34 type echo-request" "$RULES:16"
expect "DNS to a public resolver on eth0 is rejected by the dns rule" \
	"reject out eth0 udp 192\.168\.1\.10:$P > 9\.9\.9\.9:53" "$RULES:21"
expect "IPv6 on eth0 is rejected" \
	"reject out eth0 tcp \[2001:db8:1::10\]:$P > \[2001:db8:1::1\]:443" "default"
expect "the connection passes while in the tunnel" \
	"pass out wg0 tcp 10\.66\.0\.2:$P > 93\.184\.216\.34:8080" "$RULES:16"
expect "its packets after the tunnel went away are re-decided on eth0 and rejected" \
	"reject out eth0 tcp 10\.66\.0\.2:$P > 93\.184\.216\.34:8080" "default"
# The endpoint exception carries 'mark 0xca6c': owner criteria are unknown
# offline and never match, so replay rejects the tunnel's own packets.
expect "endpoint with an unknown mark does not match" \
	"reject out eth0 udp 192\.168\.1\.10:$P > 198\.51\.100\.7:51820" "default"
if grep -q '^summary: 79 packets, [0-9]* flows, [0-9]* passed, [0-9]* blocked, 0 undecodable$' "$tmp/out"; then
	echo "PASS demo summary"
else
	echo "FAIL demo summary: $(grep '^summary' "$tmp/out")"
fi

# Nothing but IPv6 link control (ND, MLD) passes out on eth0.
"$IFWALL" replay --ifmap "$IFMAP" --leaks eth0 "$RULES" "$CAP" >"$tmp/leaks" 2>&1
rc=$?
others=$(grep '^leak: ' "$tmp/leaks" | grep -v ' icmp6 ')
if [ "$rc" -eq 1 ] && [ -z "$others" ] && grep -q '^leak: pass out eth0 icmp6 .* type nd-router-solicit' "$tmp/leaks"; then
	echo "PASS demo leaks on eth0: only ND/MLD"
else
	echo "FAIL demo leaks on eth0: exit $rc, non-icmp6 leaks: ${others:-none}"
fi
"$IFWALL" replay --ifmap "$IFMAP" --leaks 'type loopback' "$RULES" "$CAP" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 0 ] && echo "PASS demo no leak on loopback" || echo "FAIL demo no leak on loopback: exit $rc"

# Without the mark the endpoint exception matches: the tunnel's packets pass.
sed 's/ mark 0xca6c//' "$RULES" >"$tmp/wireguard.rules"
"$IFWALL" replay --ifmap "$IFMAP" "$tmp/wireguard.rules" "$CAP" >"$tmp/out" 2>"$tmp/err"
expect "endpoint without a mark passes" \
	"pass out eth0 udp 192\.168\.1\.10:$P > 198\.51\.100\.7:51820" "$tmp/wireguard.rules:20"
