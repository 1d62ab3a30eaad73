"""Writes a LINUX_SLL2 capture with a realistic flow mix for the replay
benchmark: web (tcp 443/80) and QUIC-like udp through the tunnel, DNS, ping,
some IPv6, and blocked traffic on the physical interface; flows interleaved.
Usage: gen_capture.py OUT.pcap [PACKETS [ACTIVE [LENGTH]]]
  PACKETS  packets to write (default 300000)
  ACTIVE   flows open at any time, interleaved (default 200); many make
           the flow table's working set larger than the caches
  LENGTH   scale of the long flows' packet counts (default 1.0); below 1,
           more (shorter) flows in the same number of packets
Prints "N packets, N flows". Pure struct: fast."""
import random
import struct
import sys

out = sys.argv[1]
target = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
ACTIVE = int(sys.argv[3]) if len(sys.argv) > 3 else 200
LENGTH = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
rnd = random.Random(42)


def length(lo, hi):
    return max(2, int(rnd.randint(lo, hi) * LENGTH))
ETH0, WG0 = 2, 5
OUTGOING, HOST = 4, 0


def csum(b):
    s = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(src, dst, proto, l4):
    h = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack('>H', csum(h)) + h[12:]
    return h + l4


def ip6(src, dst, proto, l4):
    return struct.pack('>IHBB16s16s', 0x60000000, len(l4), proto, 64, src, dst) + l4


def tcp(sport, dport, flags, payload):
    return struct.pack('>HHIIBBHHH', sport, dport, 1, 1, 0x50, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload


def icmp(t, ident, seq):
    return struct.pack('>BBHHH', t, 0, 0, ident, seq) + b'\0' * 32


def a4(s):
    return bytes(int(x) for x in s.split('.'))


def a6(last):
    return bytes.fromhex('fd000000000000000000000000000000')[:14] + struct.pack('>H', last)


class Flow:
    def __init__(self, i):
        kind = rnd.random()
        self.v6 = rnd.random() < 0.2
        self.ifindex = WG0
        self.sport = 32768 + i % 28000
        self.remaining = 2
        self.big = 0
        self.icmp = False
        if kind < 0.55:      # web through the tunnel
            self.proto, self.dport = 6, rnd.choice([443, 443, 80])
            self.remaining = length(20, 400)
            self.big = 0.5
        elif kind < 0.70:    # quic-like udp through the tunnel
            self.proto, self.dport = 17, 443
            self.remaining = length(20, 300)
            self.big = 0.6
        elif kind < 0.85:    # dns through the tunnel
            self.proto, self.dport = 17, 53
            self.remaining = 2
        elif kind < 0.90:    # ping
            self.proto, self.dport, self.icmp = (58 if self.v6 else 1), 0, True
            self.remaining = rnd.randint(2, 20)
        else:                # blocked on eth0: leaks the kill switch stops
            self.ifindex = ETH0
            self.proto, self.dport = rnd.choice([(6, 443), (17, 53), (17, 123)])
            self.remaining = rnd.randint(1, 6)
        host = 1 + i % 60000
        if self.v6:
            self.src, self.dst = a6(2), a6(host % 65000 + 3)
        else:
            self.src = a4('10.66.0.2') if self.ifindex == WG0 else a4('192.168.1.10')
            self.dst = bytes([93, 184, (host >> 8) & 255, host & 255])
        self.n = 0

    def packet(self):
        outbound = self.n % 2 == 0 or self.proto == 17 and self.dport == 443 and rnd.random() < 0.3
        self.n += 1
        self.remaining -= 1
        src, dst = (self.src, self.dst) if outbound else (self.dst, self.src)
        size = 1200 if rnd.random() < self.big else rnd.randint(0, 80)
        if self.icmp:
            l4 = icmp((128 if outbound else 129) if self.v6 else (8 if outbound else 0), self.sport & 0xffff, self.n)
        elif self.proto == 6:
            sp, dp = (self.sport, self.dport) if outbound else (self.dport, self.sport)
            flags = 0x02 if self.n == 1 else (0x12 if self.n == 2 else 0x18)
            l4 = tcp(sp, dp, flags, b'\0' * size)
        else:
            sp, dp = (self.sport, self.dport) if outbound else (self.dport, self.sport)
            l4 = udp(sp, dp, b'\0' * size)
        ip = ip6(src, dst, self.proto, l4) if self.v6 else ip4(src, dst, self.proto, l4)
        proto = 0x86dd if self.v6 else 0x0800
        hdr = struct.pack('>HHIHBB8s', proto, 0, self.ifindex, 1, OUTGOING if outbound else HOST, 6, b'\2' * 8)
        return hdr + ip


with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 276))
    active, written, next_id, t = [], 0, 0, 1700000000.0
    while written < target:
        while len(active) < ACTIVE:
            active.append(Flow(next_id))
            next_id += 1
        at = rnd.randrange(len(active))
        fl = active[at]
        data = fl.packet()
        t += 0.00002
        sec = int(t)
        f.write(struct.pack('<IIII', sec, int((t - sec) * 1e6), len(data), len(data)))
        f.write(data)
        written += 1
        if fl.remaining <= 0:  # swap-remove: O(1) with many active flows
            active[at] = active[-1]
            active.pop()
print('%d packets, %d flows' % (written, next_id))
