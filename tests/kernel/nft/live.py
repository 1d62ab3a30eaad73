#!/usr/bin/python3
"""Helpers of tests/kernel/nft/t_state.sh, run inside the host namespace.

The host is this namespace; PEER_NS is a namespace with a real network
stack on the other end of the veths (eth0 <-> p0, wg0 <-> p1). Modes:
  flood N PORT      N TCP SYNs to the host's PORT from 192.168.1.77 (an
                    address nobody answers for), source ports from 10000
  icmp-errors       frag-needed / packet-too-big about an inbound flow to
                    port 22 and an outbound one: which reach the host
  stream SECONDS    an outbound UDP packet on eth0 and one on wg0, each
                    answered by a stream from the peer (10 per 0.5 s); on
                    SIGUSR1 the count so far is printed, at the end the count
                    per half second
"""
import ctypes
import os
import select
import socket
import struct
import sys
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
PEER_NS = os.environ["PEER_NS"]


def in_peer(fn):
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open("/var/run/netns/" + PEER_NS, os.O_RDONLY)
    try:
        if libc.setns(there, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        return fn()
    finally:
        libc.setns(here, 0x40000000)
        os.close(here)
        os.close(there)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def syn_frame(dst_mac, src_mac, src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + sport, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport & 0xffff, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def mac(ifname, peer=False):
    def read():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        m = s.getsockname()[4]
        s.close()
        return m
    return in_peer(read) if peer else read()


def flood(n, port):
    def opener():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind(("p0", 0))
        return s
    s = in_peer(opener)
    host_mac, peer_mac = mac("eth0"), mac("p0", peer=True)
    for i in range(n):
        s.send(syn_frame(host_mac, peer_mac, "192.168.1.77", "192.168.1.2", 10000 + i, port))
        if i % 2000 == 1999:
            time.sleep(0.05)


def icmp_errors():
    from scapy.all import IP, ICMP, TCP, UDP, IPv6, ICMPv6PacketTooBig  # noqa
    results = {}
    srv4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv4.bind(("0.0.0.0", 22))
    srv4.listen(5)
    srv6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    srv6.bind(("::", 22))
    srv6.listen(5)
    raw4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    c4 = in_peer(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    c4.connect(("192.168.1.2", 22))
    c6 = in_peer(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
    c6.connect(("fd01::2", 22))
    # an outbound flow: UDP from the host on wg0, answered once
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("10.64.0.2", 40000))
    u.sendto(b"out", ("10.64.0.1", 5000))
    time.sleep(0.2)
    from scapy.all import Ether

    def delivered(raw, pkt, dst, token, ifname="eth0"):
        """Writes pkt as a frame from the peer's end of ifname's veth."""
        peer_if = "p0" if ifname == "eth0" else "p1"

        def opener():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((peer_if, 0))
            return s
        out = in_peer(opener)
        while select.select([raw], [], [], 0)[0]:
            raw.recv(65535)
        frame = Ether(dst=mac(ifname).hex(":"), src=mac(peer_if, peer=True).hex(":"),
                      type=0x86dd if ":" in dst else 0x800) / pkt
        out.send(bytes(frame))
        out.close()
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            if select.select([raw], [], [], end - time.monotonic())[0] and token in raw.recv(65535):
                return True
        return False
    p4 = c4.getsockname()[1]
    p6 = c6.getsockname()[1]
    tok = b"ifwnft-err"
    fn = IP(src="192.168.1.1", dst="192.168.1.2") / ICMP(type=3, code=4, nexthopmtu=1280) / \
        IP(src="192.168.1.2", dst="192.168.1.1") / TCP(sport=22, dport=p4, flags="A") / tok
    results["in-v4-frag-needed"] = delivered(raw4, fn, "192.168.1.2", tok)
    tb = IPv6(src="fd01::1", dst="fd01::2") / ICMPv6PacketTooBig(mtu=1280) / \
        IPv6(src="fd01::2", dst="fd01::1") / TCP(sport=22, dport=p6, flags="A") / tok
    results["in-v6-packet-too-big"] = delivered(raw6, tb, "fd01::2", tok)
    on = IP(src="10.64.0.1", dst="10.64.0.2") / ICMP(type=3, code=4, nexthopmtu=1280) / \
        IP(src="10.64.0.2", dst="10.64.0.1") / UDP(sport=40000, dport=5000) / tok
    results["out-v4-frag-needed"] = delivered(raw4, on, "10.64.0.2", tok, "wg0")
    # the same error about the inbound flow, but arriving on the other
    # interface (wg0): not the flow's interface
    wrong = IP(src="10.64.0.1", dst="192.168.1.2") / ICMP(type=3, code=4, nexthopmtu=1280) / \
        IP(src="192.168.1.2", dst="192.168.1.1") / TCP(sport=22, dport=p4, flags="A") / tok
    results["in-v4-wrong-interface"] = delivered(raw4, wrong, "192.168.1.2", tok, "wg0")
    # an error about no flow at all
    none = IP(src="192.168.1.1", dst="192.168.1.2") / ICMP(type=3, code=4, nexthopmtu=1280) / \
        IP(src="192.168.1.2", dst="192.168.1.1") / TCP(sport=22, dport=1, flags="A") / tok
    results["no-flow"] = delivered(raw4, none, "192.168.1.2", tok)
    print(" ".join("%s=%s" % (k, "delivered" if v else "dropped") for k, v in results.items()))


def stream(seconds):
    """Counts arrivals per half second on two outbound-initiated UDP flows."""
    socks = {}
    for name, local, peer in (("eth0", "192.168.1.2", "192.168.1.1"), ("wg0", "10.64.0.2", "10.64.0.1")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((local, 0))
        s.setblocking(False)
        socks[name] = (s, peer)
    # the peer: answers the first packet on each with 10 packets per 0.5 s
    def responder(name):
        def make():
            r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            r.bind(("0.0.0.0", 6000 if name == "eth0" else 6001))
            return r
        r = in_peer(make)
        r.settimeout(5)
        data, addr = r.recvfrom(100)
        end = time.monotonic() + seconds + 1
        while time.monotonic() < end:
            for _ in range(10):
                r.sendto(b"answer", addr)
            time.sleep(0.5)
    threads = [threading.Thread(target=responder, args=(n,), daemon=True) for n in socks]
    for t in threads:
        t.start()
    time.sleep(0.3)
    for name, (s, peer) in socks.items():
        s.sendto(b"first", (peer, 6000 if name == "eth0" else 6001))
    start = time.monotonic()
    counts = {n: [] for n in socks}
    sys.stdout.write("started\n")
    sys.stdout.flush()
    while time.monotonic() - start < seconds:
        slot = {n: 0 for n in socks}
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            ready, _, _ = select.select([s for s, _ in socks.values()], [], [], end - time.monotonic())
            for name, (s, _) in socks.items():
                if s in ready:
                    try:
                        while True:
                            s.recv(100)
                            slot[name] += 1
                    except BlockingIOError:
                        pass
        for n in socks:
            counts[n].append(slot[n])
    for n in socks:
        print(n, " ".join(str(c) for c in counts[n]))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "flood":
        flood(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "icmp-errors":
        icmp_errors()
    elif mode == "stream":
        stream(float(sys.argv[2]))
