#!/usr/bin/env bash
# tools/examples/tunloop_example, a VPN client's packet loop on libifwall,
# with real traffic: in a network namespace the host routes 10.99.0.0/24
# into the TUN device the example reads; the example plays the far end
# (answers pings, echoes UDP) for what the rules pass. Pings and UDP that
# pass get their answers, blocked ones nothing, rejected ones an ICMP
# error (ifw_reject_build), SIGHUP reloads the rules, and
# the verdict counts the example prints at exit are exactly the expected.
set -u
cd "${TOP:?}"
source tests/common.sh   # wait_for, signal_handled
O=${O:-build}
ex=$PWD/$O/tools/tunloop_example
if [ "$(id -u)" -ne 0 ]; then echo "SKIP tunloop: needs root"; exit 0; fi
if [ ! -c /dev/net/tun ]; then echo "SKIP tunloop: no /dev/net/tun"; exit 0; fi
if [ ! -x "$ex" ]; then echo "FAIL tunloop: $ex not built"; exit 1; fi

ns=ifwlib-tun$$
dir=$(mktemp -d /tmp/ifwlib-tun.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }

ip netns add "$ns" || { echo "FAIL tunloop-netns: cannot create $ns"; exit 1; }
in_ns ip link set lo up
in_ns ip tuntap add dev ifwt0 mode tun
# IPv6 without link-local address, multicast, router solicitations or DAD,
# so the kernel sends nothing of its own into the device and the counts
# below are exact.
in_ns ip link set ifwt0 multicast off
in_ns sysctl -qw net.ipv6.conf.ifwt0.addr_gen_mode=1 net.ipv6.conf.ifwt0.accept_ra=0 \
	net.ipv6.conf.ifwt0.router_solicitations=0
in_ns ip addr add 10.99.0.1/24 dev ifwt0
in_ns ip addr add fd99::1/64 dev ifwt0 nodad
in_ns ip link set ifwt0 up

cat >"$dir/vpn.rules" <<'RULES'
pass out on ifwt0 proto icmp to 10.99.0.2
pass out on ifwt0 proto icmp6 to fd99::2
pass out on ifwt0 proto udp to 10.99.0.2 port 7
reject out on ifwt0 proto udp to 10.99.0.2 port 9
RULES

ip netns exec "$ns" "$ex" -v "$dir/vpn.rules" ifwt0 >"$dir/out" 2>"$dir/err" &
pid=$!
wait_for 20 grep -qs ready "$dir/err"
if grep -q 'ready (4 rules)' "$dir/err"; then echo "PASS tunloop-starts"; else
	echo "FAIL tunloop-starts: $(head -3 "$dir/err" | tr '\n' ' ')"; exit 1; fi

# The client side: ICMP echo (raw socket) and UDP, from inside the netns.
# Prints how many of COUNT probes got their answer.
probe() { # icmp|icmp6|udp|udp-connected DST [PORT] COUNT
	ip netns exec "$ns" /usr/bin/python3 - "$@" <<'PY'
import os, socket, struct, sys, time
kind, dst = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if kind.startswith("udp") else 0
count = int(sys.argv[-1])

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

answers = 0
if kind == "icmp":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    for seq in range(count):
        body = struct.pack("!HH", ident, seq) + b"ifwall-ping"
        s.sendto(struct.pack("!BBH", 8, 0, csum(b"\x08\0\0\0" + body)) + body, (dst, 0))
        end = time.time() + 1.0
        while time.time() < end:
            s.settimeout(max(end - time.time(), 0.01))
            try:
                data, peer = s.recvfrom(2048)
            except socket.timeout:
                break
            icmp = data[(data[0] & 15) * 4:]
            if peer[0] == dst and icmp[0] == 0 and icmp[4:8] == body[:4] and csum(icmp) == 0:
                answers += 1
                break
elif kind == "icmp6":
    # The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets and
    # checks the one of the reply.
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.settimeout(1.0)
    ident = os.getpid() & 0xffff
    for seq in range(count):
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, seq) + b"ifwall-ping", (dst, 0))
        try:
            data, peer = s.recvfrom(2048)
            if peer[0] == dst and data[0] == 129 and struct.unpack("!HH", data[4:8]) == (ident, seq):
                answers += 1
        except socket.timeout:
            pass
elif kind == "udp-connected":
    # A connected socket sees the ICMP error a reject sends back.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((dst, port))
    try:
        s.send(b"x"); s.recv(100); answers = "answer"
    except socket.timeout:
        answers = "none"
    except OSError as e:
        answers = "error %d" % e.errno
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for i in range(count):
        msg = b"ifwall-%d" % i
        s.sendto(msg, (dst, port))
        try:
            data, peer = s.recvfrom(2048)
            if data == msg and peer == (dst, port):
                answers += 1
        except socket.timeout:
            pass
print(answers)
PY
}
n=$(probe icmp 10.99.0.2 3)
if [ "$n" = 3 ]; then echo "PASS ping-passed"; else echo "FAIL ping-passed: $n of 3 answered"; fi
n=$(probe icmp 10.99.0.3 2)
if [ "$n" = 0 ]; then echo "PASS ping-blocked"; else echo "FAIL ping-blocked: $n of 2 answered"; fi
n=$(probe icmp6 fd99::2 3)
if [ "$n" = 3 ]; then echo "PASS ping6-passed"; else echo "FAIL ping6-passed: $n of 3 answered"; fi
n=$(probe icmp6 fd99::3 2)
if [ "$n" = 0 ]; then echo "PASS ping6-blocked"; else echo "FAIL ping6-blocked: $n of 2 answered"; fi

# UDP: echoed on port 7 (passed), no answer on 9 (rejected) or 53 (default).
n=$(probe udp 10.99.0.2 7 2); if [ "$n" = 2 ]; then echo "PASS udp-echoed"; else echo "FAIL udp-echoed: $n of 2"; fi
n=$(probe udp 10.99.0.2 9 2); if [ "$n" = 0 ]; then echo "PASS udp-rejected"; else echo "FAIL udp-rejected: $n answers"; fi
n=$(probe udp 10.99.0.2 53 1); if [ "$n" = 0 ]; then echo "PASS udp-default"; else echo "FAIL udp-default: $n answers"; fi
# EHOSTUNREACH (113): ICMP administratively prohibited, from the example.
n=$(probe udp-connected 10.99.0.2 9 1); if [ "$n" = "error 113" ]; then echo "PASS udp-reject-answered"; else echo "FAIL udp-reject-answered: $n"; fi

# Reload: everything blocked now; a new ping gets no answer.
echo 'block all' >"$dir/vpn.rules"
kill -HUP "$pid"
wait_for 20 signal_handled "$pid" 1
n=$(probe icmp 10.99.0.2 2)
if [ "$n" = 0 ]; then echo "PASS reload-blocks"; else echo "FAIL reload-blocks: $n of 2 answered"; fi

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
if [ $rc -eq 0 ]; then echo "PASS exits-cleanly"; else echo "FAIL exits-cleanly: exit $rc"; fi
want='out pass 8 block 7 reject 3
in pass 8 block 0 reject 0
invalid 0'
got=$(cat "$dir/out")
if [ "$got" = "$want" ]; then echo "PASS verdict-counts"; else
	echo "FAIL verdict-counts: got '$(echo $got)', want '$(echo $want)'"; fi
if grep -q "^pass out IPv4 proto 1 $dir/vpn.rules:1 pass out on ifwt0 proto icmp to 10.99.0.2$" "$dir/err" &&
   grep -q "^pass in IPv6 proto 58 $dir/vpn.rules:2 " "$dir/err" &&
   grep -q "^reject out IPv4 proto 17 $dir/vpn.rules:4 " "$dir/err"; then
	echo "PASS log-names-rules"
else
	echo "FAIL log-names-rules: $(head -4 "$dir/err" | tr '\n' '|')"
fi
