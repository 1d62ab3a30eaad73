# Seeds the packet corpus with IP packets from the shared capture corpus:
# one control byte (direction/interface), then the raw IP packet.
out=$1
corpus=../shared/corpus/tcpdump; [ -d "$corpus" ] || corpus=/work/shared/corpus/tcpdump
[ -d "$corpus" ] || exit 0
/usr/bin/python3 - "$corpus" "$out" <<'PY' 2>/dev/null
import os, sys, glob, random
from scapy.all import PcapReader, IP, IPv6
corpus, out = sys.argv[1:3]
random.seed(1)
n = 0
files = sorted(glob.glob(os.path.join(corpus, '*.pcap')))[:120]
for f in files:
    try:
        for i, pkt in enumerate(PcapReader(f)):
            if i > 40: break
            l3 = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            if l3 is None: continue
            open(os.path.join(out, 'seed-%05d' % n), 'wb').write(bytes([random.randrange(256)]) + bytes(l3))
            n += 1
    except Exception:
        pass
PY
exit 0
