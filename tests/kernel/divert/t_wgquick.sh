#!/usr/bin/env bash
# Divert beside wg-quick: wg-quick's own table (for a fwmark setup: a
# default route through the tunnel) copies the whole packet mark into the
# conntrack mark ('ct mark set meta mark'). Divert's per-flow state must
# survive that: the WireGuard flow is decided once and then stays in the
# kernel, and the tunnel outlives a kill -9 of ifwall (fail closed keeps
# passed flows). The tunnel is brought up by wg-quick itself (its real nft
# table), with wireguard-go where the kernel has no WireGuard.
source "$(dirname "$0")/lib.sh"
divert_require_root wgquick-decided-once wgquick-tunnel-survives-kill
need=
for c in wg wg-quick nft; do command -v $c >/dev/null || need="$need $c"; done
ip netns add "$(ns wgprobe)" 2>/dev/null
if ! ip -n "$(ns wgprobe)" link add wgprobe0 type wireguard 2>/dev/null; then
	command -v wireguard-go >/dev/null || need="$need wireguard-go"
	export WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go
fi
ip netns del "$(ns wgprobe)" 2>/dev/null
if [ -n "$need" ]; then
	for c in wgquick-decided-once wgquick-tunnel-survives-kill; do skip $c "needs$need"; done
	exit 0
fi

# wireguard-go's control sockets (/var/run/wireguard/NAME.sock) are shared
# by every namespace: names unique to this run.
WGA=ifwq$$a WGB=ifwq$$b
divert_topology
ka=$(wg genkey); kb=$(wg genkey)
pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
mkdir -p "$TMP/wg" && chmod 700 "$TMP/wg"
cat >"$TMP/wg/$WGA.conf" <<C
[Interface]
PrivateKey = $ka
Address = 10.99.0.1/32

[Peer]
PublicKey = $pb
Endpoint = 10.1.0.2:51820
AllowedIPs = 0.0.0.0/0
C
chmod 600 "$TMP/wg/$WGA.conf"

# b: a plain WireGuard peer.
printf '%s\n' "$kb" >"$TMP/wg/kb"
if in_ns b ip link add "$WGB" type wireguard 2>/dev/null; then :; else
	in_ns b wireguard-go "$WGB" >/dev/null 2>&1
fi
CLEANUP+=("ip -n $(ns b) link del $WGB; rm -f /var/run/wireguard/$WGB.sock")
in_ns b wg set "$WGB" listen-port 51820 private-key "$TMP/wg/kb" peer "$pa" allowed-ips 10.99.0.1/32
in_ns b ip addr add 10.99.0.2/24 dev "$WGB"
in_ns b ip link set "$WGB" up
start_peer b udp:7

# a: wg-quick up, with its real table.
CLEANUP+=("ip netns exec $(ns a) wg-quick down $TMP/wg/$WGA.conf; rm -f /var/run/wireguard/$WGA.sock")
if ! in_ns a wg-quick up "$TMP/wg/$WGA.conf" >"$TMP/wgquick.out" 2>&1; then
	fail wgquick-decided-once "wg-quick up failed: $(tail -3 "$TMP/wgquick.out")"; exit 0
fi
if ! in_ns a nft list table ip "wg-quick-$WGA" | grep -q 'ct mark set meta mark'; then
	fail wgquick-decided-once "wg-quick made no table with 'ct mark set meta mark': $(in_ns a nft list ruleset | head -20)"; exit 0
fi

cat >"$TMP/r.rules" <<R
pass out on veth0 proto udp to 10.1.0.2 port 51820
pass out on $WGA all
R
start_divert a --log "$TMP/log.json" "$TMP/r.rules" || { fail wgquick-decided-once "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

# N datagrams through the tunnel, each echoed: N WireGuard packets each way.
# Always from the same port: after kill -9 only flows passed before go on.
exchange() { # N: prints how many echoes came back
	in_ns a /usr/bin/python3 - "$1" <<'PY'
import socket, sys, time
n = int(sys.argv[1]); got = 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", 40007))  # one inner flow across both exchanges
for i in range(n):
    s.sendto(b"x%d" % i, ("10.99.0.2", 7))
    try:
        s.recvfrom(100); got += 1
    except OSError:
        pass
    time.sleep(0.005)
print(got)
PY
}
N=150
echoes=$(exchange $N)
# Packets of the WireGuard flow (port 51820) the engine was asked about.
decided=$(grep -c '"dport":51820\|"sport":51820' "$TMP/log.json")
if [ "$echoes" -ge $((N - 5)) ] && [ "$decided" -le 4 ]; then
	pass "wgquick-decided-once: $echoes of $N echoes through the tunnel; WireGuard packets decided in userspace: $decided (of about $((2 * N + 2)))"
else
	fail wgquick-decided-once "$echoes of $N echoes; WireGuard packets decided in userspace: $decided (want at most 4)"
fi

kill -9 "$DIVERT_PID"; wait "$DIVERT_PID" 2>/dev/null
echoes=$(exchange 20)
if [ "$echoes" -ge 18 ]; then pass "wgquick-tunnel-survives-kill: $echoes of 20 echoes after kill -9"
else fail wgquick-tunnel-survives-kill "$echoes of 20 echoes through the tunnel after kill -9 of ifwall"; fi
