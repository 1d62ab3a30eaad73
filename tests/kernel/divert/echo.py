#!/usr/bin/python3
# Test helper: sends COUNT ICMP echo requests back to back (one socket, one
# identifier) and prints how many replies came back within a second, or
# "error" when an ICMP error or a send error came instead.
# Usage: echo.py ADDR [COUNT]
import os, socket, struct, sys

addr, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
v6 = ":" in addr

def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff

if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    request, reply = 128, 129
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    request, reply = 8, 0
ident = os.getpid() & 0xffff
seen = set()
try:
    s.connect((addr, 0))
    for seq in range(count):
        msg = struct.pack("!BBHHH", request, 0, 0, ident, seq) + b"divert-echo!"
        if not v6:
            msg = msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]
        s.send(msg)
    s.settimeout(1)
    while len(seen) < count:
        data = s.recv(4096)
        if not v6:
            data = data[(data[0] & 15) * 4:]
        typ, _, _, rid, seq = struct.unpack("!BBHHH", data[:8])
        if typ == reply and rid == ident:
            seen.add(seq)
        elif typ in ((1, 2, 3, 4) if v6 else (3, 11, 12)):  # ICMP errors
            print("error")
            sys.exit(0)
except socket.timeout:
    pass
except OSError:
    print("error")
    sys.exit(0)
print(len(seen))
