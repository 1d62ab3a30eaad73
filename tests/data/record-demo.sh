#!/usr/bin/env bash
# Records tests/data/killswitch-demo.pcap: real traffic of a host with a
# WireGuard tunnel (wireguard-go) and a physical interface, captured with
# `tcpdump -i any` (LINUX_SLL2) inside network namespaces. Needs root.
#
#   client netns  eth0 (veth) 192.168.1.10/24, 2001:db8:1::10/64
#                 wg0-like tunnel (wireguard-go, named wgrpdc0) 10.66.0.2, fd00::2
#   isp netns     isp0 192.168.1.1, 2001:db8:1::1; VPN server wgrpds0
#                 (endpoint 198.51.100.7:51820); behind the tunnel: web
#                 93.184.216.34:80, tunnel resolver 10.64.0.1:53; public
#                 resolver 9.9.9.9:53 reached on eth0
#
# Traffic: TCP and DNS through the tunnel, DNS to the public resolver on
# eth0, IPv6 TCP on eth0, ping through the tunnel.
# Usage: record-demo.sh [OUTPUT.pcap]   (prints the --ifmap to use)
set -eu
out=$(realpath -m "${1:-$(dirname "$0")/killswitch-demo.pcap}")
C=ifwrp-demo-c S=ifwrp-demo-s
WGC=wgrpdc0 WGS=wgrpds0
tmp=$(mktemp -d /tmp/ifwrp-demo.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	ip netns del $C 2>/dev/null || true
	ip netns del $S 2>/dev/null || true
	rm -f /var/run/wireguard/$WGC.sock /var/run/wireguard/$WGS.sock
	rm -rf "$tmp"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "record-demo: needs root" >&2; exit 1; }

ip netns add $C
ip netns add $S
inc() { ip netns exec $C "$@"; }
ins() { ip netns exec $S "$@"; }
inc ip link set lo up
ins ip link set lo up
inc ip link add eth0 type veth peer name isp0 netns $S
inc ip addr add 192.168.1.10/24 dev eth0
inc ip addr add 2001:db8:1::10/64 dev eth0 nodad
inc ip link set eth0 up
ins ip addr add 192.168.1.1/24 dev isp0
ins ip addr add 2001:db8:1::1/64 dev isp0 nodad
ins ip link set isp0 up
for a in 198.51.100.7 93.184.216.34 10.64.0.1 9.9.9.9; do ins ip addr add $a/32 dev lo; done
ins sysctl -qw net.ipv4.ip_forward=1

# WireGuard (userspace) between the two namespaces.
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
ip netns exec $C wireguard-go -f $WGC >"$tmp/wgc.log" 2>&1 & pids+=($!)
ip netns exec $S wireguard-go -f $WGS >"$tmp/wgs.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do
	[ -S /var/run/wireguard/$WGC.sock ] && [ -S /var/run/wireguard/$WGS.sock ] && break
	sleep 0.1
done
wg genkey >"$tmp/c.key"; wg pubkey <"$tmp/c.key" >"$tmp/c.pub"
wg genkey >"$tmp/s.key"; wg pubkey <"$tmp/s.key" >"$tmp/s.pub"
ins wg set $WGS listen-port 51820 private-key "$tmp/s.key" \
	peer "$(cat "$tmp/c.pub")" allowed-ips 10.66.0.2/32,fd00::2/128
ins ip addr add 10.66.0.1/24 dev $WGS
ins ip addr add fd00::1/64 dev $WGS nodad
ins ip link set $WGS up
inc ip addr add 10.66.0.2/24 dev $WGC
inc ip addr add fd00::2/64 dev $WGC nodad
inc ip link set $WGC up
inc wg set $WGC private-key "$tmp/c.key" \
	peer "$(cat "$tmp/s.pub")" endpoint 198.51.100.7:51820 allowed-ips 0.0.0.0/0,::/0
# Routes: the endpoint and the public resolver on eth0, everything else
# through the tunnel.
inc ip route add 198.51.100.7/32 via 192.168.1.1 dev eth0
inc ip route add 9.9.9.9/32 via 192.168.1.1 dev eth0
inc ip route add 0.0.0.0/1 dev $WGC
inc ip route add 128.0.0.0/1 dev $WGC

# Services in the isp namespace: web (tcp 80, and 443 on IPv6) and DNS
# responders (they answer with the query bytes).
cat >"$tmp/servers.py" <<'EOF'
import socket, threading
def tcp(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(8)
    while True:
        c, _ = s.accept()
        c.recv(4096); c.sendall(b'HTTP/1.0 200 OK\r\n\r\nhello\n'); c.close()
def echo(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(8)
    while True:
        c, _ = s.accept()
        c.settimeout(3)
        try:
            while True:
                data = c.recv(4096)
                if not data: break
                c.sendall(data)
        except OSError: pass
        c.close()
def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(data[:2] + b'\x81\x80' + data[4:], peer)
for args in [(socket.AF_INET, '93.184.216.34', 80), (socket.AF_INET6, '2001:db8:1::1', 443)]:
    threading.Thread(target=tcp, args=args, daemon=True).start()
threading.Thread(target=echo, args=('93.184.216.34', 8080), daemon=True).start()
for a in ['10.64.0.1', '9.9.9.9']:
    threading.Thread(target=udp, args=(a,), daemon=True).start()
threading.Event().wait()
EOF
ip netns exec $S /usr/bin/python3 "$tmp/servers.py" & pids+=($!)
sleep 0.5
# Bring the tunnel up (handshake) before recording, so the capture shows
# steady traffic; the endpoint flow is still there (data packets).
inc /usr/bin/python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('10.64.0.1', 9))"
for _ in $(seq 100); do
	[ "$(inc wg show $WGC latest-handshakes | awk '{print $2}')" != 0 ] && break
	sleep 0.1
done

ip netns exec $C tcpdump -i any -n --immediate-mode -U -s 262144 -w "$tmp/demo.pcap" 2>"$tmp/tcpdump.log" & pids+=($!)
tcpdump_pid=$!
sleep 1

cat >"$tmp/client.py" <<'EOF'
import socket, struct, subprocess, time
def dns(server, name):
    q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\x00\x00\x01\x00\x01'
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(q, (server, 53))
    try: s.recvfrom(2048)
    except socket.timeout: pass
def http(family, addr, port):
    s = socket.create_connection((addr, port), timeout=3)
    s.sendall(b'GET / HTTP/1.0\r\nHost: example\r\n\r\n')
    while s.recv(4096): pass
    s.close()
dns('10.64.0.1', 'example.com')          # through the tunnel
http(socket.AF_INET, '93.184.216.34', 80) # through the tunnel
dns('9.9.9.9', 'example.org')            # leak attempt: public resolver on eth0
http(socket.AF_INET6, '2001:db8:1::1', 443)  # IPv6 on eth0
def ping(addr, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(1)
    for seq in range(1, count + 1):
        body = struct.pack('>BBHHH', 8, 0, 0, 0x4242, seq) + b'ifwall-demo-ping'
        csum = sum(struct.unpack('>%dH' % (len(body) // 2), body))
        while csum >> 16: csum = (csum & 0xffff) + (csum >> 16)
        body = body[:2] + struct.pack('>H', ~csum & 0xffff) + body[4:]
        s.sendto(body, (addr, 0))
        try: s.recvfrom(2048)
        except socket.timeout: pass
        time.sleep(0.2)
ping('93.184.216.34', 2)                 # ping through the tunnel
# A connection through the tunnel when the tunnel's routes go away: its
# later packets leave on eth0 (what a kill switch must stop).
s = socket.create_connection(('93.184.216.34', 8080), timeout=2)
s.sendall(b'through the tunnel\n'); s.recv(100)
for r in (['del', '0.0.0.0/1'], ['del', '128.0.0.0/1'], ['add', 'default', 'via', '192.168.1.1', 'dev', 'eth0']):
    subprocess.run(['ip', 'route'] + r, check=True)
s.settimeout(0.5)
for _ in range(2):
    s.sendall(b'tunnel gone: out on eth0\n')
    try: s.recv(100)
    except socket.timeout: pass
s.close()
time.sleep(0.2)
EOF
inc /usr/bin/python3 "$tmp/client.py"
sleep 1
kill -TERM $tcpdump_pid
wait $tcpdump_pid 2>/dev/null || true

ifmap=$(inc ip -o link show | awk -F': ' '{split($2, n, "@"); printf "%s%s=%s", sep, $1, n[1]; sep=","}')
cp "$tmp/demo.pcap" "$out"
echo "recorded $(tcpdump -r "$out" 2>/dev/null | wc -l) packets into $out ($(stat -c %s "$out") bytes)"
echo "interfaces: $ifmap"
