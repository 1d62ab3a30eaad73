"""Small pcapng seeds for fuzz_pcap: several interfaces of different link
types and names, both byte orders, several sections, direction flags,
timestamp resolutions, simple and obsolete packet blocks, unknown blocks,
and a few broken ones. Plain struct (no scapy): runs with any python3.
Usage: pcapng_seeds.py OUTDIR"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../golden/replay'))
import capture as cap  # noqa: E402


def ipv4_udp(src, dst, sport, dport, payload=b'x' * 8):
    total = 28 + len(payload)
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, total, 1, 0, 64, 17, 0,
                     bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.'))))
    return ip + struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload


def main(out):
    hs = ipv4_udp('192.168.1.10', '198.51.100.7', 41000, 51820)
    tun = ipv4_udp('10.64.0.2', '1.1.1.1', 50000, 443)
    seeds = {
        'two-interfaces': [cap.shb(), cap.idb(cap.EN10MB, 'eth0'), cap.idb(cap.RAW, 'wg0'),
                           cap.epb(0, 1, cap.ether(hs), flags=cap.DIR_OUT),
                           cap.epb(1, 2, tun, flags=cap.DIR_IN), cap.epb(1, 3, tun)],
        'big-endian': [cap.shb('>'), cap.idb(cap.RAW, 'wg0', tsresol=9, bo='>'),
                       cap.epb(0, 5, tun, flags=cap.DIR_OUT, bo='>')],
        'sections': [cap.shb(), cap.idb(cap.LINUX_SLL2, 'any'),
                     cap.epb(0, 1, cap.sll2(hs, 2, cap.PACKET_OUTGOING)),
                     cap.shb('>'), cap.idb(cap.NULL, 'lo0', tsresol=0x80 | 20, bo='>'),
                     cap.epb(0, 7, cap.null(tun, 2, little_endian=False), bo='>'),
                     cap.block(0xdead, b'unknown', '>'), cap.spb(tun, '>')],
        'simple': [cap.shb(), cap.idb(cap.RAW, None, snaplen=20), cap.spb(tun), cap.spb(hs)],
        'obsolete': [cap.shb(), cap.idb(cap.LOOP, 'lo'),
                     cap.block(cap.OPB, struct.pack('<HHIIII', 0, 0, 0, 9, 40, 40) +
                               cap.loop(tun, 2) + cap.option(2, struct.pack('<I', 2)))],
        'bad-interface': [cap.shb(), cap.idb(cap.RAW, 'wg0'), cap.epb(9, 1, tun)],
        'bad-option': [cap.shb(), cap.idb(cap.RAW, 'wg0')[:16] + struct.pack('<HH', 2, 999) + b'\0' * 8],
    }
    for name, blocks in seeds.items():
        with open(os.path.join(out, 'pcapng-' + name + '.pcapng'), 'wb') as f:
            f.write(b''.join(blocks))


if __name__ == '__main__':
    main(sys.argv[1])
