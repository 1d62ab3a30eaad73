#!/usr/bin/python3
"""Valid netlink datagrams for the fuzz_netlink_* seed corpora: what the
kernel sends the divert backend (nfqueue packets), the interface table and
route lookups (rtnetlink), and the nft backend's dumps (nf_tables).
Usage: netlink.py nfqueue|rtnl|nft OUTDIR"""
import os
import struct
import sys


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack('=HH', n, t) + payload + b'\0' * ((-n) % 4)


def nested(t, *attrs):
    return attr(t | 0x8000, b''.join(attrs))


def msg(t, body, flags=0, seq=0):
    n = 16 + len(body)
    return struct.pack('=IHHII', n, t, flags, seq, 0) + body + b'\0' * ((-n) % 4)


def be32(v):
    return struct.pack('>I', v & 0xffffffff)


def strz(s):
    return s.encode() + b'\0'


def nfgen(family=0, res_id=0):
    return struct.pack('=BBH', family, 0, res_id)


def nfqueue():
    ipv4_syn = bytes.fromhex('450000280001000040060000c0a80102c0a80101'
                             '30390050000000010000000050027210000000000000')[:40]
    ipv6_udp = bytes.fromhex('6000000000081140' + 'fd00' + '00' * 13 + '02' + 'fd00' + '00' * 13 + '01'
                             '0035003500080000')
    icmp = bytes.fromhex('45000054000040004001f7e40a0000020a00000108004d2a00010001') + b'x' * 56
    out = []
    for i, (proto, payload, hook) in enumerate([(0x0800, ipv4_syn, 3), (0x86dd, ipv6_udp, 1),
                                                 (0x0800, icmp, 2)]):
        body = nfgen(0, 0) + attr(1, struct.pack('>IHB', 100 + i, proto, hook))
        body += attr(3, be32(0x10)) + attr(4 if hook == 1 else 5, be32(2))
        if hook == 3:
            body += attr(16, be32(1000)) + attr(17, be32(1000))
        body += attr(13, be32(len(payload))) + attr(10, payload)
        out.append(msg(3 << 8, body))
    # an error message (a verdict for a vanished packet), then a packet
    err = msg(2, struct.pack('=i', -2) + struct.pack('=IHHII', 32, (3 << 8) | 1, 0, 7, 0))
    out.append(err + out[0])
    return out


def rtnl():
    link = lambda t, idx, name, arphrd, flags, kind=None: msg(t, struct.pack(
        '=BBHiII', 0, 0, arphrd, idx, flags, 0) + attr(3, strz(name)) +
        (nested(18, attr(1, strz(kind))) if kind else b''), flags=2)
    addr = lambda t, idx, fam, plen, a, peer=None: msg(t, struct.pack(
        '=BBBBI', fam, plen, 0, 0, idx) + attr(1, peer or a) + (attr(2, a) if peer else b''))
    dump = (link(16, 1, 'lo', 772, 0x49) + link(16, 2, 'eth0', 1, 0x1043, 'veth') +
            link(16, 3, 'wg0', 65534, 0x91, 'wireguard') + msg(3, b'\0' * 4, flags=2))
    addrs = (addr(20, 1, 2, 8, bytes([127, 0, 0, 1])) +
             addr(20, 2, 2, 24, bytes([192, 168, 1, 2])) +
             addr(20, 2, 10, 64, bytes.fromhex('fe80' + '00' * 13 + '02')) +
             addr(20, 3, 2, 32, bytes([10, 64, 0, 2]), bytes([10, 64, 0, 1])))
    out = [b'\0' + dump, b'\0' + addrs,
           b'\0' + addr(21, 2, 2, 24, bytes([192, 168, 1, 2])) + link(17, 3, 'wg0', 65534, 0),
           b'\0' + dump + addrs]
    rt = struct.pack('=BBBBBBBBI', 2, 32, 0, 0, 254, 2, 0, 1, 0)
    out.append(b'\1' + msg(24, rt + attr(15, be32(254)) + attr(1, bytes([1, 1, 1, 1])) +
                           attr(4, struct.pack('=I', 2))))
    out.append(b'\1' + msg(2, struct.pack('=i', -101) + struct.pack('=IHHII', 36, 26, 1, 1, 0)))
    return out


def nft():
    NFT = 10 << 8
    be64 = lambda v: struct.pack('>Q', v)
    udata = lambda items: b''.join(struct.pack('BB', t, len(v)) + v for t, v in items)
    def expr(name, *data):
        return attr(1, nested(1, attr(1, strz(name)), nested(2, *data)))
    def rule(chain, role, index, text, verdict_code, vchain=None, comment=None):
        u = [(0xf2, struct.pack('=I', role))]
        if index is not None:
            u += [(0xf0, struct.pack('=I', index)), (0xf1, strz(text))]
        if comment:
            u += [(0, strz(comment))]
        if role == 3:
            u += [(0xf3, struct.pack('=I', 1))]
        v = attr(1, be32(verdict_code)) + (attr(2, strz(vchain)) if vchain else b'')
        exprs = nested(4, expr('counter', attr(1, be64(1234)), attr(2, be64(17))),
                       expr('immediate', attr(1, be32(0)), nested(2, nested(2, v))))
        return msg(NFT | 6, nfgen(1) + attr(1, strz('ifwall')) + attr(2, strz(chain)) +
                   attr(3, be64(5)) + exprs + attr(7, udata(u)), flags=2)
    rules = (rule('output', 2, 0, 'pass out on wg0 all', 0xfffffffd, 'pass_out', 'r.rules:3') +
             rule('input', 2, 1, 'block in on !wg0 to (wg0)', 0) +
             rule('output', 3, None, '', 0xfffffffd, 'reject') +
             rule('input', 1, None, '', 1, comment='skip'))
    table = msg(NFT | 0, nfgen(1) + attr(1, strz('ifwall')) + attr(2, be32(0)))
    chain = msg(NFT | 3, nfgen(1) + attr(1, strz('ifwall')) + attr(3, strz('output')) +
                nested(4, attr(1, be32(3)), attr(2, be32(0))) + attr(5, be32(0)) +
                attr(7, strz('filter')))
    sset = msg(NFT | 9, nfgen(1) + attr(1, strz('ifwall')) + attr(2, strz('blocked')) +
               attr(3, be32(6)) + attr(4, be32(7)) + attr(5, be32(4)) +
               attr(13, udata([(0xf0, struct.pack('=Q', 0x1234))])))
    gen = msg(NFT | 15, nfgen(0) + attr(1, be32(42)))
    return [b'\0' + rules, b'\0' + rules[:len(rules) // 2],
            b'\1' + table + chain + sset + gen, b'\1' + table, b'\1' + chain + sset]


kind, outdir = sys.argv[1:3]
for i, data in enumerate({'nfqueue': nfqueue, 'rtnl': rtnl, 'nft': nft}[kind]()):
    with open(os.path.join(outdir, 'seed-%s-%02d' % (kind, i)), 'wb') as f:
        f.write(data)
