#!/usr/bin/env bash
# Real traffic through 'ifwall load' in network namespaces:
#   - differential: for the example rule files, the kernel's verdict on a
#     generated set of packets (delivered or not, and the counter of the
#     deciding rule) equals 'ifwall query', for packets in, out and
#     forwarded (in on one interface, then out on another);
#   - atomicity: 200 alternating reloads while traffic flows;
#   - if-bound state: a reply passes only on the interface its flow used;
#   - an interface deleted and re-created keeps matching, with no reload.
#
#   host ($RUN-host)                       peer ($RUN-peer)
#   eth0 192.168.1.2  2001:db8:1::2  ---- p0 192.168.1.1  2001:db8:1::1
#   wg0  10.64.0.2    fd00:64::2     ---- p1 10.64.0.1    fd00:64::1
#   tun0 10.8.0.2     fd00:8::2      ---- p2 10.8.0.1     fd00:8::1
# (veth pairs, so every interface is of type ether for the rules.)
. "$(dirname "$0")/lib.sh"
need_root nft-traffic
$PY -c 'import scapy' 2>/dev/null || { skip nft-traffic "scapy missing for $PY (python3-scapy)"; exit 0; }

HOST=$RUN-host PEER=$RUN-peer
add_ns "$HOST" && add_ns "$PEER" || { fail nft-traffic-setup "namespaces"; exit 0; }
IFACES='{"eth0": ["p0", "192.168.1.2", "192.168.1.1", "2001:db8:1::2", "2001:db8:1::1"],
         "wg0":  ["p1", "10.64.0.2", "10.64.0.1", "fd00:64::2", "fd00:64::1"],
         "tun0": ["p2", "10.8.0.2", "10.8.0.1", "fd00:8::2", "fd00:8::1"]}'
export IFWALL IFACES NFT_DIR PEER_NS=$PEER

for s in all default; do
	nsx "$HOST" sysctl -qw net.ipv4.conf.$s.rp_filter=0
	nsx "$HOST" sysctl -qw net.ipv6.conf.$s.accept_dad=0
	nsx "$PEER" sysctl -qw net.ipv6.conf.$s.accept_dad=0
done
nsx "$HOST" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0

# iface_up HOSTIF PEERIF H4 P4 H6 P6 METRIC: (re)creates one link
iface_up() {
	ip -n "$HOST" link add "$1" type veth peer name "$2" netns "$PEER" || return 1
	nsx "$HOST" sysctl -qw net.ipv4.conf.$1.rp_filter=0
	ip -n "$HOST" addr add "$3/24" dev "$1"
	ip -n "$HOST" addr add "$5/64" dev "$1" nodad
	ip -n "$PEER" addr add "$4/24" dev "$2"
	ip -n "$PEER" addr add "$6/64" dev "$2" nodad
	ip -n "$HOST" link set "$1" up
	ip -n "$PEER" link set "$2" up
	local mac
	mac=$(ip -n "$PEER" -br link show "$2" | awk '{print $3}')
	ip -n "$HOST" neigh replace "$4" lladdr "$mac" dev "$1" nud permanent
	ip -n "$HOST" neigh replace "${4%.*}.254" lladdr "$mac" dev "$1" nud permanent
	ip -n "$HOST" neigh replace "$6" lladdr "$mac" dev "$1" nud permanent
	ip -n "$HOST" route add default via "$4" dev "$1" metric "$7"
	ip -n "$HOST" -6 route add default via "$6" dev "$1" metric "$7"
}
iface_up eth0 p0 192.168.1.2 192.168.1.1 2001:db8:1::2 2001:db8:1::1 100 &&
iface_up wg0 p1 10.64.0.2 10.64.0.1 fd00:64::2 fd00:64::1 200 &&
iface_up tun0 p2 10.8.0.2 10.8.0.1 fd00:8::2 fd00:8::1 300 ||
	{ fail nft-traffic-setup "could not build the test network"; exit 0; }
# The peer only watches (AF_PACKET sees frames before netfilter): it never
# answers, so nothing but the test's own packets reaches the host.
nsx "$PEER" nft -f - <<'NFT'
table inet sink {
	chain input {
		type filter hook input priority 0; policy drop;
	}
	chain output {
		type filter hook output priority 0; policy drop;
	}
}
NFT
sleep 0.3   # let link-up chatter (router/MLD solicitations) pass

traffic() { nsx "$HOST" $PY "$NFT_DIR/traffic.py" "$@"; }

# --- differential: the example rule files, and one of this test --------------
cd "$WORK" || exit 1
cp "$TOP"/rules/examples/* .
cat >mixed.rules <<'RULES'
table <lan> { 10.0.0.0/8 192.168.0.0/16 fd00::/8 }
set skip on tun0
block out log proto udp to <lan> port 7777
pass out on { eth0 wg* } proto { tcp udp } to ! <lan> port { 53 80 443 51820 }
pass in on eth0 proto tcp from any to port 22
reject in on !eth0 inet proto icmp icmp-type echo-request
pass out inet6 proto icmp6 all
block in on wg0 from { 10.0.0.0/8 172.16.0.0/12 }
pass in on type ether proto udp from <lan> port 67 to any port 68
pass out mark 0xca6c
set default in drop
set default out reject
RULES
for f in *.rules; do
	name=$(basename "$f" .rules)
	if ! out=$(nsx "$HOST" "$IFWALL" load "$f" 2>&1); then
		fail "nft-verdicts-$name" "load failed: $(head -c 200 <<<"$out")"; continue
	fi
	traffic verdicts "$f" "$name"
done

# --- forwarding: checked in on the ingress, then out on the egress ----------
nsx "$HOST" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$HOST" route add 203.0.113.0/24 via 192.168.1.1 dev eth0
ip -n "$HOST" route add 198.18.0.0/24 via 10.64.0.1 dev wg0
ip -n "$HOST" route add 198.19.0.0/24 via 10.8.0.1 dev tun0
ip -n "$HOST" -6 route add 2001:db8:80::/48 via 2001:db8:1::1 dev eth0
ip -n "$HOST" -6 route add 2001:db8:18::/48 via fd00:64::1 dev wg0
ip -n "$HOST" -6 route add 2001:db8:19::/48 via fd00:8::1 dev tun0
for f in wireguard.rules lan-server.rules mixed.rules; do
	nsx "$HOST" "$IFWALL" load "$f" 2>/dev/null || { fail "nft-forward-${f%.rules}" "load failed"; continue; }
	traffic forward "$f" "${f%.rules}"
done
nsx "$HOST" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

# --- atomicity --------------------------------------------------------------
cat >a.rules <<'RULES'
set default block
pass out on eth0 proto { tcp udp } to any port { 53 80 443 }
pass in on eth0 proto tcp to port 22
pass in on wg0 all
pass out on wg0 proto udp all
block out on tun0 all
RULES
cat >b.rules <<'RULES'
table <t> { 10.0.0.0/8 fd00::/8 }
set default block
set block-policy reject
pass out on eth0 proto tcp to any port { 80 443 }
pass out on eth0 proto udp to any port 53
block in on eth0 proto tcp to port 23
pass in on eth0 proto tcp to port { 22 8080 }
pass in on wg0 from ! <t>
pass in on wg0 from <t>
pass out on wg0 all
RULES
nsx "$HOST" "$IFWALL" load a.rules 2>/dev/null
traffic atomic a.rules b.rules 200 reload

# --- if-bound state -----------------------------------------------------------
cat >state.rules <<'RULES'
set default in drop
set default out reject
pass out on wg0 all
RULES
nsx "$HOST" "$IFWALL" load state.rules 2>/dev/null
nsx "$HOST" $PY - <<'PY'
import os, sys
sys.path.insert(0, os.environ["NFT_DIR"])
import traffic
net = traffic.Net()
out = dict(dir="out", ifname="wg0", proto="udp", src="10.64.0.2", dst="198.18.0.80", sport=40001, dport=7777)
reply_wrong = dict(dir="in", ifname="eth0", proto="udp", src="198.18.0.80", dst="10.64.0.2", sport=7777, dport=40001)
reply_right = dict(reply_wrong, ifname="wg0")
unsolicited = dict(reply_right, sport=7778)
r = [net.send(out), net.send(reply_wrong), net.send(reply_right), net.send(unsolicited)]
if r == [True, False, True, False]:
    print("PASS nft-state-if-bound: reply on wg0 passes by state; the same reply on eth0 and an unsolicited packet on wg0 are dropped")
else:
    print("FAIL nft-state-if-bound: out, reply on eth0, reply on wg0, unsolicited delivered = %s, want [True, False, True, False]" % r)
import subprocess
for i in range(3):
    subprocess.run([os.environ["IFWALL"], "load", "state.rules"], check=True, capture_output=True)
if net.send(reply_right):
    print("PASS nft-state-reload: replies of a flow passed before three reloads still pass (the state set is kept)")
else:
    print("FAIL nft-state-reload: a reply of an established flow was dropped after reloads")
PY

# --- reject answers leave even when the out side blocks everything -----------
cat >reject.rules <<'RULES'
set default in drop
set default out drop
reject in on eth0 proto udp to port 5555
reject in on eth0 proto tcp to port 5556
block in on eth0 proto udp to port 5557
RULES
nsx "$HOST" "$IFWALL" load reject.rules 2>/dev/null
nsx "$HOST" $PY - <<'PY'
import os, select, sys, time
sys.path.insert(0, os.environ["NFT_DIR"])
import traffic
from scapy.all import Ether, IP, ICMP, TCP, Raw
net = traffic.Net()
def answer(proto, port):
    """Injects a packet in on eth0; returns what came back on the wire."""
    net.drain()
    pkt = dict(dir="in", ifname="eth0", proto=proto, src="192.168.1.1", dst="192.168.1.2",
               sport=41000 + port, dport=port)
    token = net.token()
    frame = Ether(src=net.peer_mac["eth0"], dst=net.host_mac["eth0"]) / net.build(pkt, token)
    peer = net.peer["eth0"]
    peer.send(bytes(frame))
    end = time.monotonic() + 5   # an answer ends the wait; a busy machine is slow
    while time.monotonic() < end:
        if not select.select([peer], [], [], max(0, end - time.monotonic()))[0]:
            break
        try:
            data = peer.recv(65535)
        except BlockingIOError:
            continue
        e = Ether(data)
        if IP in e and e[IP].src == "192.168.1.2":
            if ICMP in e and e[ICMP].type == 3:
                return "icmp-unreach-%d" % e[ICMP].code
            if TCP in e and e[TCP].flags & 0x04 and e[TCP].dport == 41000 + port:
                return "tcp-rst"
    return "nothing"
got = [answer("udp", 5555), answer("tcp", 5556), answer("udp", 5557)]
want = ["icmp-unreach-13", "tcp-rst", "nothing"]
if got == want:
    print("PASS nft-reject-answers: udp reject answered with ICMP admin-prohibited, tcp with RST, block silent, under an out default of drop")
else:
    print("FAIL nft-reject-answers: got %s, want %s" % (got, want))
PY

# --- interface types: a real TUN device is 'type tunnel' -----------------------
cat >types.rules <<'RULES'
set default block
pass out on type tunnel proto udp to any port 9999
pass out on type ether proto udp to any port 9998
RULES
ip -n "$HOST" tuntap add dev tunx mode tun
ip -n "$HOST" addr add 10.99.9.1/24 dev tunx
ip -n "$HOST" link set tunx up
nsx "$HOST" "$IFWALL" load types.rules 2>/dev/null
result=$(nsx "$HOST" $PY - <<'PY'
import fcntl, os, select, socket, struct, time
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tunx", IFF_TUN | IFF_NO_PI))
# the carrier comes up once a reader is attached
end = time.monotonic() + 20
while open("/sys/class/net/tunx/carrier").read().strip() != "1" and time.monotonic() < end:
    time.sleep(0.05)
def through_tun(port):
    while select.select([fd], [], [], 0)[0]:
        os.read(fd, 65535)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"tunx")
    try:
        s.sendto(b"ifwnft-tun", ("10.99.9.2", port))
    except OSError:
        return "dropped"
    end = time.monotonic() + 5   # other packets (the kernel's) may come first
    while select.select([fd], [], [], max(0, end - time.monotonic()))[0]:
        if b"ifwnft-tun" in os.read(fd, 65535):
            return "delivered"
    return "dropped"
print(through_tun(9999), through_tun(9998))
PY
)
if [ "$result" = "delivered dropped" ]; then
	pass nft-iftype-tunnel "a TUN device matches 'on type tunnel' (ARPHRD_NONE), not 'on type ether'"
else
	fail nft-iftype-tunnel "port 9999 (type tunnel), 9998 (type ether) through tunx: $result, want delivered dropped"
fi

# --- an interface deleted and re-created keeps its rules ----------------------
cat >recreate.rules <<'RULES'
set default block
pass out on wg0 proto udp to any port 9999
RULES
nsx "$HOST" "$IFWALL" load recreate.rules 2>/dev/null
before=$(traffic send out wg0 udp 10.64.0.2 10.64.0.1 9999)
ip -n "$HOST" link del wg0
iface_up wg0 p1 10.64.0.2 10.64.0.1 fd00:64::2 fd00:64::1 200
after=$(traffic send out wg0 udp 10.64.0.2 10.64.0.1 9999)
other=$(traffic send out eth0 udp 192.168.1.2 192.168.1.1 9999)
if [ "$before $after $other" = "delivered delivered dropped" ]; then
	pass nft-iface-recreated "wg0 deleted and re-created: 'pass out on wg0' still matches, no reload; eth0 still blocked"
else
	fail nft-iface-recreated "before/after re-creation/eth0: $before $after $other, want delivered delivered dropped"
fi
exit 0
