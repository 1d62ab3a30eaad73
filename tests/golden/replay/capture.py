"""Small capture writer for the replay tests: pcap and pcapng files of any
link type, and the link headers replay understands. Packets themselves are
built with scapy (run with /usr/bin/python3)."""
import struct

# Link types (LINKTYPE_ values as stored in files)
NULL, EN10MB, RAW, LOOP, LINUX_SLL, IEEE802_11, IPV4, IPV6, LINUX_SLL2 = \
    0, 1, 101, 108, 113, 105, 228, 229, 276

PACKET_HOST, PACKET_BROADCAST, PACKET_OUTGOING = 0, 1, 4
ETH_IP, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8


def ethertype_of(ip):
    """Ethertype of raw IP bytes, from the version nibble."""
    return ETH_IPV6 if ip and ip[0] >> 4 == 6 else ETH_IP


def sll2(payload, ifindex, pkttype, proto=None):
    proto = ethertype_of(payload) if proto is None else proto
    hatype = 1 if ifindex != 1 else 772
    return struct.pack('>HHIHBB8s', proto, 0, ifindex, hatype, pkttype, 6,
                       b'\x02\x00\x00\x00\x00\x01') + payload


def sll(payload, pkttype, proto=None):
    proto = ethertype_of(payload) if proto is None else proto
    return struct.pack('>HHH8sH', pkttype, 1, 6, b'\x02\x00\x00\x00\x00\x01',
                       proto) + payload


def ether(payload, vlans=(), proto=None, tpid=ETH_VLAN):
    """Ethernet frame; vlans is a list of VLAN ids, outermost first; with
    two tags the outer one uses tpid (802.1ad)."""
    proto = ethertype_of(payload) if proto is None else proto
    hdr = b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01'
    for i, vid in enumerate(vlans):
        t = tpid if (i == 0 and len(vlans) > 1) else ETH_VLAN
        hdr += struct.pack('>HH', t, vid)
    return hdr + struct.pack('>H', proto) + payload


def null(payload, af, little_endian=True):
    return struct.pack('<I' if little_endian else '>I', af) + payload


def loop(payload, af):
    return struct.pack('>I', af) + payload


def write_pcap(path, linktype, frames, snaplen=262144):
    """frames: list of (timestamp_seconds, bytes) or (ts, bytes, wirelen)."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype))
        for fr in frames:
            ts, data = fr[0], fr[1]
            wirelen = fr[2] if len(fr) > 2 else len(data)
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            f.write(struct.pack('<IIII', sec, usec, len(data), wirelen))
            f.write(data)


def _block(btype, body):
    body += b'\0' * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack('<II', btype, total) + body + struct.pack('<I', total)


def write_pcapng(path, linktype, frames, snaplen=262144):
    with open(path, 'wb') as f:
        f.write(_block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
        f.write(_block(0x00000001, struct.pack('<HHI', linktype, 0, snaplen)))
        for fr in frames:
            ts, data = fr[0], fr[1]
            wirelen = fr[2] if len(fr) > 2 else len(data)
            t = int(round(ts * 1e6))
            body = struct.pack('<IIIII', 0, t >> 32, t & 0xffffffff, len(data), wirelen)
            f.write(_block(0x00000006, body + data))


def write_pcapng_interfaces(path, linktypes, frames, snaplen=262144):
    """pcapng with one interface per link type; frames: (ts, bytes, ifid)."""
    with open(path, 'wb') as f:
        f.write(_block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
        for linktype in linktypes:
            f.write(_block(0x00000001, struct.pack('<HHI', linktype, 0, snaplen)))
        for ts, data, ifid in frames:
            t = int(round(ts * 1e6))
            body = struct.pack('<IIIII', ifid, t >> 32, t & 0xffffffff, len(data), len(data))
            f.write(_block(0x00000006, body + data))


# --- pcapng blocks, for files with several interfaces and sections ---------
SHB, IDB, OPB, SPB, NRB, ISB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6
DIR_IN, DIR_OUT = 1, 2        # epb_flags bits 0-1


def option(code, value, bo='<'):
    return struct.pack(bo + 'HH', code, len(value)) + value + b'\0' * (-len(value) % 4)


def end_of_options(bo='<'):
    return struct.pack(bo + 'HH', 0, 0)


def block(btype, body, bo='<'):
    body += b'\0' * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(bo + 'II', btype, total) + body + struct.pack(bo + 'I', total)


def shb(bo='<'):
    return block(SHB, struct.pack(bo + 'IHHq', 0x1A2B3C4D, 1, 0, -1), bo)


def idb(linktype, name=None, tsresol=None, snaplen=262144, bo='<'):
    opts = b''
    if name is not None:
        opts += option(2, name.encode() if isinstance(name, str) else name, bo)
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), bo)
    if opts:
        opts += end_of_options(bo)
    return block(IDB, struct.pack(bo + 'HHI', linktype, 0, snaplen) + opts, bo)


def epb(ifid, ticks, data, flags=None, wirelen=None, bo='<'):
    """ticks: the timestamp in the interface's units."""
    wirelen = len(data) if wirelen is None else wirelen
    body = struct.pack(bo + 'IIIII', ifid, ticks >> 32, ticks & 0xffffffff, len(data), wirelen)
    body += data + b'\0' * (-len(data) % 4)
    if flags is not None:
        body += option(2, struct.pack(bo + 'I', flags), bo) + end_of_options(bo)
    return block(EPB, body, bo)


def spb(data, bo='<'):
    return block(SPB, struct.pack(bo + 'I', len(data)) + data, bo)


def us(ts):
    """Seconds -> microsecond ticks (the default resolution)."""
    return int(round(ts * 1e6))
