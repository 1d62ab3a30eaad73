"""replay of pcapng with several interfaces (issue 11, item 8): each packet
is on the interface its interface description block names, with that
block's link type and timestamp resolution; direction from the packet's
epb_flags; an unnamed interface takes --iface or FILE@IFNAME. Captures
written by Debian's dumpcap (two interfaces in a network namespace),
text2pcap (direction flags) and mergecap (one interface per input), and by
capture.py for what those tools do not write (big-endian sections, several
sections, simple packet blocks, unknown blocks, 2^-N resolutions) and for
corrupt files. ks.rules as in cases.py."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture as cap  # noqa: E402
from cases import (ETH4, PEER, WEB, WG4, check, expect_flows, replay,  # noqa: E402
                   summary)
from scapy.all import IP, TCP, UDP, Raw  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000

ENDPOINT = IP(src=ETH4, dst=PEER) / UDP(sport=41000, dport=51820) / Raw(b'h' * 20)
TUNNEL_SYN = IP(src=WG4, dst=WEB) / TCP(sport=40001, dport=80, flags='S')
TUNNEL_SYNACK = IP(src=WEB, dst=WG4) / TCP(sport=80, dport=40001, flags='SA')
PROBE = IP(src='203.0.113.5', dst=WG4) / TCP(sport=1234, dport=22, flags='S')

ENDPOINT_FLOW = 'pass out eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 1p ks.rules:4'
TUNNEL_FLOW = 'pass out wg0 tcp 10.66.0.2:40001 > 93.184.216.34:80 2p ks.rules:3'


def write(tmp, name, blocks):
    path = os.path.join(tmp, name)
    with open(path, 'wb') as f:
        f.write(b''.join(blocks))
    return name


def named_interfaces(tmp):
    """eth0 (Ethernet) and wg0 (raw IP) in one file: before, every packet
    was on --iface (wg0), so the eth0 endpoint flow was no leak."""
    f = write(tmp, 'two.pcapng', [
        cap.shb(), cap.idb(cap.EN10MB, 'eth0'), cap.idb(cap.RAW, 'wg0'),
        cap.epb(0, cap.us(T0 + 0.0), cap.ether(bytes(ENDPOINT))),
        cap.epb(1, cap.us(T0 + 0.1), bytes(TUNNEL_SYN), flags=cap.DIR_OUT),
        cap.epb(1, cap.us(T0 + 0.2), bytes(TUNNEL_SYNACK), flags=cap.DIR_IN),
        cap.epb(0, cap.us(T0 + 0.3), cap.ether(bytes(PROBE)), flags=cap.DIR_IN)])
    rc, out, err = replay(tmp, ['--iface', 'wg0', '--leaks', '!wg0', 'ks.rules', f])
    check('pcapng interfaces: the eth0 leak is found (exit 1)', rc == 1, (rc, out, err))
    expect_flows('pcapng interfaces: each packet on its own interface', out, [
        ENDPOINT_FLOW, TUNNEL_FLOW,
        'block in eth0 tcp 203.0.113.5:1234 > 10.66.0.2:22 1p ks.rules:3'])
    leaks = [l for l in out.splitlines() if l.startswith('leak: ')]
    check('pcapng interfaces: leak listed', len(leaks) == 1 and ' eth0 ' in leaks[0], leaks)
    rc, out, err = replay(tmp, ['--iface', 'wg0', '--json', 'ks.rules', f])
    check('pcapng interfaces: json iface and dir', rc == 0 and
          '"dir":"in","iface":"eth0","proto":"tcp","src":"203.0.113.5"' in out, (rc, out, err))


def direction_flags(tmp):
    """epb_flags direction beats the default (out) and --local."""
    f = write(tmp, 'flags.pcapng', [
        cap.shb(), cap.idb(cap.RAW, 'wg0'),
        cap.epb(0, cap.us(T0), bytes(PROBE), flags=cap.DIR_IN),
        cap.epb(0, cap.us(T0 + 1), bytes(TUNNEL_SYN), flags=0),          # no direction
        cap.epb(0, cap.us(T0 + 2), bytes(TUNNEL_SYNACK), flags=cap.DIR_IN | 0x100)])
    rc, out, err = replay(tmp, ['ks.rules', f])
    expect_flows('epb_flags: inbound probe blocked, flagless packet out', out, [
        'block in wg0 tcp 203.0.113.5:1234 > 10.66.0.2:22 1p default', TUNNEL_FLOW])
    # --local says the probe's destination is ours, but the flags say
    # otherwise only where given: they win
    f = write(tmp, 'flags-out.pcapng', [
        cap.shb(), cap.idb(cap.RAW, 'wg0'),
        cap.epb(0, cap.us(T0), bytes(PROBE), flags=cap.DIR_OUT)])
    rc, out, err = replay(tmp, ['--local', '10.66.0.0/24', 'ks.rules', f])
    expect_flows('epb_flags: flags win over --local', out,
                 ['pass out wg0 tcp 203.0.113.5:1234 > 10.66.0.2:22 1p ks.rules:3'])


def unnamed_interfaces(tmp):
    """No if_name: --iface, or FILE@IFNAME; an IDB named 'any' names none."""
    blocks = [cap.shb(), cap.idb(cap.RAW), cap.idb(cap.RAW, 'any'),
              cap.epb(0, cap.us(T0), bytes(TUNNEL_SYN)),
              cap.epb(1, cap.us(T0 + 1), bytes(IP(src=WG4, dst=WEB) /
                                               TCP(sport=40001, dport=80, flags='A')))]
    f = write(tmp, 'unnamed.pcapng', blocks)
    rc, out, err = replay(tmp, ['ks.rules', f + '@wg0'])
    expect_flows('unnamed interfaces: FILE@IFNAME', out, [TUNNEL_FLOW])
    rc, out, err = replay(tmp, ['--iface', 'wg0', 'ks.rules', f])
    expect_flows('unnamed interfaces: --iface', out, [TUNNEL_FLOW])
    rc, out, err = replay(tmp, ['--iface', 'eth0', 'ks.rules', f + '@wg0'])
    expect_flows('unnamed interfaces: FILE@IFNAME beats --iface', out, [TUNNEL_FLOW])


def sections_and_blocks(tmp):
    """A big-endian section after a little-endian one (interface ids start
    again), nanosecond and 2^-N resolutions, a simple packet block,
    unknown and statistics blocks skipped."""
    synack_ns = (T0 + 1) * 10**9 + 5
    blocks = [
        cap.shb('<'), cap.idb(cap.RAW, 'wg0'),
        cap.block(0x0BAD, b'custom junk'),
        cap.epb(0, cap.us(T0), bytes(TUNNEL_SYN), flags=cap.DIR_OUT),
        cap.block(cap.ISB, struct.pack('<IIIHH', 0, 0, 0, 0, 0)),
        cap.shb('>'), cap.idb(cap.EN10MB, 'eth0', tsresol=9, bo='>'),
        cap.idb(cap.RAW, 'wg0', tsresol=0x80 | 10, bo='>'),
        cap.epb(1, synack_ns * 1024 // 10**9, bytes(TUNNEL_SYNACK), flags=cap.DIR_IN, bo='>'),
        cap.epb(0, (T0 + 2) * 10**9, cap.ether(bytes(ENDPOINT)), flags=cap.DIR_OUT, bo='>'),
        cap.shb('<'), cap.idb(cap.EN10MB, 'eth0'),
        cap.spb(cap.ether(bytes(IP(src=ETH4, dst=PEER) / UDP(sport=41000, dport=51820) /
                                Raw(b'x' * 8))))]
    f = write(tmp, 'sections.pcapng', blocks)
    rc, out, err = replay(tmp, ['--json', 'ks.rules', f])
    check('sections: exit 0', rc == 0, (rc, err))
    rc, out, err = replay(tmp, ['ks.rules', f])
    expect_flows('sections: both byte orders, resolutions, SPB', out, [
        TUNNEL_FLOW, 'pass out eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820 2p ks.rules:4'])
    rc, out, err = replay(tmp, ['--json', 'ks.rules', f])
    import json
    flows = [json.loads(l) for l in out.splitlines() if '"type":"flow"' in l]
    ok = len(flows) == 2 and flows[0]['first_seen'] == T0 and \
        abs(flows[0]['last_seen'] - (T0 + 1)) < 0.001 and flows[1]['first_seen'] == T0 + 2
    check('sections: timestamps in each interface resolution', ok, flows)


def corrupt(tmp):
    """Bounds: a packet on an interface never described, an option or a
    packet longer than its block, lengths that differ, a block too short:
    exit 2 naming the file (packets were not seen: no 'no leak'). A file cut
    inside its last block: what was read counts, a warning, exit 0."""
    good = [cap.shb(), cap.idb(cap.EN10MB, 'eth0'),
            cap.epb(0, cap.us(T0), cap.ether(bytes(ENDPOINT)))]
    bad_if = cap.epb(3, cap.us(T0 + 1), bytes(TUNNEL_SYN))
    bad_opt = cap.idb(cap.RAW, 'wg0')
    bad_opt = bad_opt[:16] + struct.pack('<HH', 2, 200) + bad_opt[20:]
    epb = bytearray(cap.epb(0, cap.us(T0 + 1), cap.ether(bytes(ENDPOINT))))
    epb[20:24] = struct.pack('<I', 5000)            # captured length > block
    mism = bytearray(cap.epb(0, cap.us(T0 + 1), cap.ether(bytes(ENDPOINT))))
    mism[-4:] = struct.pack('<I', len(mism) + 4)
    short = struct.pack('<II', cap.EPB, 8) + struct.pack('<I', 8)
    huge = struct.pack('<II', cap.EPB, 0x7ffffff0)
    for name, tail in [('unknown interface', bad_if), ('option past its block', bad_opt),
                       ('packet longer than its block', bytes(epb)),
                       ('block lengths differ', bytes(mism)), ('block too short', short),
                       ('block too long', huge + b'\0' * 64)]:
        fname = write(tmp, 'corrupt.pcapng', good + [tail])
        rc, out, err = replay(tmp, ['--leaks', '!wg0', 'ks.rules', fname])
        check('corrupt pcapng (%s): exit 2' % name, rc == 2 and 'corrupt.pcapng' in err,
              (rc, out, err))
    whole = b''.join(good + [cap.epb(0, cap.us(T0 + 1), cap.ether(bytes(TUNNEL_SYN)))])
    with open(os.path.join(tmp, 'cut.pcapng'), 'wb') as f:
        f.write(whole[:-10])
    rc, out, err = replay(tmp, ['ks.rules', 'cut.pcapng'])
    check('pcapng cut in its last block: exit 0, warning', rc == 0 and 'ends early' in err and
          summary(out).get('packets') == 1, (rc, out, err))
    # an unsupported link type on any interface: exit 2 naming it
    fname = write(tmp, 'wifi.pcapng', [cap.shb(), cap.idb(cap.EN10MB, 'eth0'),
                                       cap.idb(cap.IEEE802_11, 'wlan0')])
    rc, out, err = replay(tmp, ['ks.rules', fname])
    check('pcapng unsupported link type: exit 2 naming it', rc == 2 and 'IEEE802_11' in err,
          (rc, err))


def have(tool):
    return shutil.which(tool) is not None


def debian_text2pcap(tmp):
    """text2pcap -D writes each packet's direction in epb_flags."""
    if not have('text2pcap'):
        print('SKIP pcapng text2pcap: no text2pcap (Debian package tshark)')
        return
    lines = []
    for i, (d, p) in enumerate([('I', PROBE), ('O', TUNNEL_SYN), ('I', TUNNEL_SYNACK)]):
        b = bytes(p)
        lines.append('%s 2023-11-14 22:13:2%d.000000' % (d, i))
        lines += ['%06x %s' % (o, ' '.join('%02x' % x for x in b[o:o + 16]))
                  for o in range(0, len(b), 16)]
        lines.append('')
    with open(os.path.join(tmp, 'dir.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    p = subprocess.run(['text2pcap', '-q', '-D', '-t', '%Y-%m-%d %H:%M:%S.', '-l', '101',
                        '-F', 'pcapng', 'dir.txt', 'dir.pcapng'], cwd=tmp,
                       capture_output=True, text=True)
    check('text2pcap wrote a pcapng', p.returncode == 0, p.stderr)
    rc, out, err = replay(tmp, ['ks.rules', 'dir.pcapng@wg0'])
    expect_flows('text2pcap direction flags', out, [
        'block in wg0 tcp 203.0.113.5:1234 > 10.66.0.2:22 1p default', TUNNEL_FLOW])


def debian_mergecap(tmp):
    """mergecap of an Ethernet and a raw IP pcap: one unnamed interface per
    input, two link types (libpcap refused those: exit 2)."""
    if not have('mergecap'):
        print('SKIP pcapng mergecap: no mergecap (Debian package wireshark-common)')
        return
    cap.write_pcap(os.path.join(tmp, 'm-eth.pcap'), cap.EN10MB,
                   [(T0, cap.ether(bytes(ENDPOINT)))])
    cap.write_pcap(os.path.join(tmp, 'm-raw.pcap'), cap.RAW,
                   [(T0 + 0.5, bytes(TUNNEL_SYN)), (T0 + 1.5, bytes(TUNNEL_SYN))])
    p = subprocess.run(['mergecap', '-w', 'merged.pcapng', 'm-eth.pcap', 'm-raw.pcap'],
                       cwd=tmp, capture_output=True, text=True)
    check('mergecap wrote a pcapng', p.returncode == 0, p.stderr)
    rc, out, err = replay(tmp, ['--leaks', '!wg0', 'ks.rules', 'merged.pcapng@wg0'])
    expect_flows('mergecap two link types, unnamed: FILE@IFNAME', out, [
        'pass out wg0 udp 192.168.1.10:41000 > 198.51.100.7:51820 1p ks.rules:4',
        TUNNEL_FLOW])
    check('mergecap two link types: replayed (exit 0, no leak on wg0)', rc == 0, (rc, err))


def debian_dumpcap(tmp):
    """dumpcap -i eth0 -i wg0 in a throwaway network namespace: Ethernet
    and raw IP interfaces, named, in one file."""
    if os.geteuid() != 0 or not have('dumpcap') or not have('ip') or \
            not os.path.exists('/dev/net/tun'):
        print('SKIP pcapng dumpcap: needs root, dumpcap (tshark), ip and /dev/net/tun')
        return
    ns = 'ifwreplay-%d' % os.getpid()
    if subprocess.run(['ip', 'netns', 'add', ns], capture_output=True).returncode != 0:
        print('SKIP pcapng dumpcap: cannot create a network namespace')
        return
    try:
        p = subprocess.run(['ip', 'netns', 'exec', ns, sys.executable,
                            os.path.join(HERE, 'dumpcap_capture.py'),
                            os.path.join(tmp, 'dumpcap.pcapng')],
                           capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
    check('dumpcap captured eth0 and wg0', p.returncode == 0, p.stderr)
    if p.returncode != 0:
        return
    rc, out, err = replay(tmp, ['--iface', 'wg0', '--leaks', '!wg0', 'ks.rules', 'dumpcap.pcapng'])
    check('dumpcap -i eth0 -i wg0: the eth0 leak is found (exit 1)', rc == 1 and
          'leak: pass out eth0 udp 192.0.2.1:41000 > 198.51.100.7:51820' in out, (rc, out, err))
    got = [line.rsplit(' ', 5)[0] for line in out.splitlines()
           if not line.startswith(('leak:', 'summary:'))]
    check('dumpcap -i eth0 -i wg0: flows on their interfaces', got == [
        'pass out eth0 udp 192.0.2.1:41000 > 198.51.100.7:51820',
        'pass out wg0 udp 10.64.0.2:50000 > 1.1.1.1:443'], got)
    check('dumpcap -i eth0 -i wg0: nothing undecodable',
          summary(out).get('undecodable') == 0 and summary(out).get('packets', 0) >= 2, out)


def main():
    tmp = tempfile.mkdtemp(prefix='ifw-replay-pcapng-')
    try:
        shutil.copy(os.path.join(HERE, 'ks.rules'), tmp)
        named_interfaces(tmp)
        direction_flags(tmp)
        unnamed_interfaces(tmp)
        sections_and_blocks(tmp)
        corrupt(tmp)
        debian_text2pcap(tmp)
        debian_mergecap(tmp)
        debian_dumpcap(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    import cases
    return 1 if cases.failures else 0


if __name__ == '__main__':
    sys.exit(main())
