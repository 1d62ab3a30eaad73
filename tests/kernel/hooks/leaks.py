# leaks.py PCAP T0 T1 CLI4 CLI6 [ALLOWED ADDR:PORT ...]: counts packets from
# the client's addresses in [T0, T1) that are not UDP to an allowed
# endpoint, nor IPv6 ND/MLD. Prints the count; lists them on stderr.
import sys
from scapy.all import PcapReader, IP, IPv6, UDP, ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6ND_RS
pcap, t0, t1, cli4, cli6 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
allowed = set()
for a in sys.argv[6:]:
    host, port = a.rsplit(":", 1)
    allowed.add((host.strip("[]"), int(port)))
n = 0
for p in PcapReader(pcap):
    t = float(p.time)
    if t < t0 or t >= t1:
        continue
    ip = p.getlayer(IP) or p.getlayer(IPv6)
    if ip is None or ip.src not in (cli4, cli6):
        continue
    if p.haslayer(IPv6) and p[IPv6].nh == 58 and (p.haslayer(ICMPv6ND_NS) or
            p.haslayer(ICMPv6ND_NA) or p.haslayer(ICMPv6ND_RS)):
        continue
    if p.haslayer(IPv6) and (p[IPv6].dst.startswith("ff02:")):
        continue
    if p.haslayer(UDP) and (ip.dst, p[UDP].dport) in allowed:
        continue
    n += 1
    print("leak %.6f %s" % (t, p.summary()), file=sys.stderr)
print(n)
