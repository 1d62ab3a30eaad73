#!/usr/bin/python3
"""Traffic and capture tools of the leak suite (tests/kernel/leak/t_leak.sh).

Standard library only (scapy is slow to import; only inject.py uses it).

  serve [--log FILE] SPEC...     listeners: tcp,ADDR,PORT (echo)  udp,ADDR,PORT
                                 (echo)  dns,ADDR (udp+tcp 53, answers A
                                 192.0.2.1, logs "dns ADDR" per query)
  probe [--timeout S] [--sport N] [--mark N] [--hold FILE] SPEC...
                                 one line per probe: "ok SPEC" or
                                 "fail SPEC: reason"; SPEC as above, plus
                                 ping,ADDR (3 ICMP echoes, all must return).
                                 --hold: after a first exchange print
                                 "held SPEC", wait for FILE to exist, then
                                 exchange again on the same socket (a flow
                                 that lives across a network change)
  flows PCAP --mac MAC           flows of the packets sent by MAC (Ethernet
                                 captures), one per line:
                                 "PROTO SRC SPORT DST DPORT PACKETS"
  leaks PCAP --mac MAC --allow PROTO,ADDR,PORT,PORT
                                 like flows, but only the leaks: IP packets
                                 sent by MAC that are not the allowed flow
                                 (both port orders) and not link-local
                                 ICMPv6 control (ND, MLD)
  replayflows JSONFILE --iface NAME
                                 flows ifwall replay --json --leaks says
                                 passed out on NAME, in the same form as
                                 'flows'
"""
import errno
import json
import os
import selectors
import socket
import struct
import sys
import time

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}
# link-local ICMPv6 control: MLD (130-132, 143) and neighbour discovery
# (133-137); not user traffic, and ND is passed by the kill switch on purpose
LINK_CONTROL_TYPES = {130, 131, 132, 133, 134, 135, 136, 137, 143}


# ---------------------------------------------------------------- specs

def parse_spec(text):
    parts = text.split(",")
    if kind_is(parts, "ping", 2):
        return "ping", parts[1], 0, "icmp"
    kind = parts[0]
    if kind == "dns" and len(parts) in (2, 3):
        return kind, parts[1], 53, (parts[2] if len(parts) == 3 else "udp")
    if kind in ("tcp", "udp") and len(parts) == 3:
        return kind, parts[1], int(parts[2]), kind
    raise SystemExit("bad spec: " + text)


def kind_is(parts, kind, n):
    return parts[0] == kind and len(parts) == n


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# ---------------------------------------------------------------- DNS

def dns_query(name, qid):
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack("!HH", 1, 1)


def dns_answer(query):
    """A reply to an A query: 192.0.2.1, TTL 60."""
    if len(query) < 12:
        return None
    qid, = struct.unpack("!H", query[:2])
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    question = query[12:end + 5]
    header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    return header + question + answer


# ---------------------------------------------------------------- serve

def serve(args):
    log = None
    if args and args[0] == "--log":
        log = open(args[1], "a", buffering=1)
        args = args[2:]
    sel = selectors.DefaultSelector()
    for text in args:
        kind, addr, port, _ = parse_spec(text)
        fam = family_of(addr)
        kinds = ("tcp", "udp") if kind == "dns" else (kind,)
        for k in kinds:
            s = socket.socket(fam, socket.SOCK_STREAM if k == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((addr, port))
            if k == "tcp":
                s.listen(64)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, (k, kind, addr))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            k, kind, addr = key.data
            s = key.fileobj
            try:
                if k == "udp":
                    data, peer = s.recvfrom(4096)
                    if kind == "dns":
                        if log:
                            log.write("dns %s udp from %s\n" % (addr, peer[0]))
                        reply = dns_answer(data)
                    else:
                        reply = data
                    if reply:
                        s.sendto(reply, peer)
                elif k == "conn":  # an echo connection: echo until closed
                    data = s.recv(4096)
                    if data:
                        s.sendall(data)
                    else:
                        sel.unregister(s)
                        s.close()
                elif kind == "dns":
                    conn, peer = s.accept()
                    conn.settimeout(1.0)
                    data = conn.recv(4096)
                    if log:
                        log.write("dns %s tcp from %s\n" % (addr, peer[0]))
                    reply = dns_answer(data[2:]) if len(data) > 2 else None
                    if reply:
                        conn.sendall(struct.pack("!H", len(reply)) + reply)
                    conn.close()
                else:
                    conn, peer = s.accept()
                    conn.settimeout(1.0)
                    sel.register(conn, selectors.EVENT_READ, ("conn", kind, addr))
            except OSError:
                if k == "conn":
                    sel.unregister(s)
                    s.close()


# ---------------------------------------------------------------- ping

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def ping(addr, timeout, count=3):
    """Echo requests sent together; how many came back, or an error."""
    v6 = family_of(addr) == socket.AF_INET6
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        request, reply, unreach = 128, 129, (1,)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        request, reply, unreach = 8, 0, (3,)
    ident = os.getpid() & 0xffff
    seen = set()
    try:
        s.connect((addr, 0))
        for seq in range(count):
            msg = struct.pack("!BBHHH", request, 0, 0, ident, seq) + b"leak-probe-ping"
            if not v6:  # the kernel sums ICMPv6, not ICMPv4
                msg = msg[:2] + struct.pack("!H", inet_checksum(msg)) + msg[4:]
            s.send(msg)
        deadline = time.monotonic() + timeout
        while len(seen) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data = s.recv(4096)
            except socket.timeout:
                break
            if not v6:
                data = data[(data[0] & 15) * 4:]
            if len(data) < 8:
                continue
            typ, _, _, rid, seq = struct.unpack("!BBHHH", data[:8])
            if typ == reply and rid == ident:
                seen.add(seq)
            elif typ in unreach:
                return "unreachable (icmp type %d code %d)" % (typ, data[1])
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
    return None if len(seen) == count else "%d/%d replies" % (len(seen), count)


# ---------------------------------------------------------------- probe

def probe_one(spec, timeout, sport, mark, hold=None):
    kind, addr, port, transport = parse_spec(spec)
    if kind == "ping":
        return ping(addr, timeout)
    fam = family_of(addr)
    stype = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, stype)
    try:
        s.settimeout(timeout)
        if mark is not None:
            s.setsockopt(socket.SOL_SOCKET, 36, mark)  # SO_MARK
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        s.connect((addr, port))
        if kind == "dns":
            q = dns_query("leak.test", os.getpid() & 0xffff)
            s.send(struct.pack("!H", len(q)) + q if transport == "tcp" else q)
            reply = s.recv(4096)
            if transport == "tcp":
                reply = reply[2:]
            if len(reply) < 12 or reply[:2] != q[:2] or not reply[2] & 0x80:
                return "bad reply"
            return None
        payload = b"leak-probe %s" % spec.encode()
        s.send(payload)
        reply = s.recv(4096)
        if reply != payload:
            return "bad reply"
        if hold:  # the same flow again once the caller has changed the network
            print("held " + spec, flush=True)
            while not os.path.exists(hold):
                time.sleep(0.02)
            s.send(payload)
            reply = s.recv(4096)
            return None if reply == payload else "bad reply after hold"
        return None
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def probe(args):
    timeout, sport, mark, hold = 1.0, 0, None, None
    while args and args[0].startswith("--"):
        opt, val = args[0], args[1]
        args = args[2:]
        if opt == "--timeout":
            timeout = float(val)
        elif opt == "--sport":
            sport = int(val)
        elif opt == "--mark":
            mark = int(val, 0)
        elif opt == "--hold":
            hold = val
        else:
            raise SystemExit("bad option " + opt)
    failed = 0
    for spec in args:
        why = probe_one(spec, timeout, sport, mark, hold)
        if why is None:
            print("ok " + spec)
        else:
            failed += 1
            print("fail %s: %s" % (spec, why))
    return 1 if failed else 0


# ---------------------------------------------------------------- pcap

def pcap_frames(path):
    """(linktype, frame) for every frame of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(path + ": not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xffff
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        yield linktype, data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def ip_tuple(pkt):
    """(proto, src, sport, dst, dport, icmp_type) of an IP packet, or None."""
    if len(pkt) < 1:
        return None
    version = pkt[0] >> 4
    if version == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 15) * 4
        proto = pkt[9]
        src = socket.inet_ntop(socket.AF_INET, pkt[12:16])
        dst = socket.inet_ntop(socket.AF_INET, pkt[16:20])
        frag_offset = struct.unpack("!H", pkt[6:8])[0] & 0x1fff
        l4 = pkt[ihl:] if frag_offset == 0 else b""
    elif version == 6 and len(pkt) >= 40:
        proto = pkt[6]
        src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
        l4 = pkt[40:]
        while proto in (0, 43, 60) and len(l4) >= 8:  # hop-by-hop, routing, dstopts
            proto, l4 = l4[0], l4[(l4[1] + 1) * 8:]
    else:
        return None
    sport = dport = 0
    icmp_type = None
    if proto in (6, 17) and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
    elif proto in (1, 58) and len(l4) >= 1:
        icmp_type = l4[0]
    return PROTO_NAMES.get(proto, str(proto)), src, sport, dst, dport, icmp_type


def ether_ip(frame):
    """(source MAC, IP packet) of an Ethernet frame, skipping VLAN tags."""
    if len(frame) < 14:
        return None, None
    src = ":".join("%02x" % b for b in frame[6:12])
    etype = struct.unpack("!H", frame[12:14])[0]
    off = 14
    while etype in (0x8100, 0x88a8) and len(frame) >= off + 4:
        etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if etype not in (0x0800, 0x86dd):
        return src, None
    return src, frame[off:]


def is_link_control(t):
    proto, _, _, dst, _, icmp_type = t
    return (proto == "icmp6" and icmp_type in LINK_CONTROL_TYPES
            and (dst.startswith("fe8") or dst.startswith("ff02:")))


def sent_tuples(path, mac):
    mac = mac.lower()
    for linktype, frame in pcap_frames(path):
        if linktype != 1:
            raise SystemExit("%s: link type %d, want Ethernet" % (path, linktype))
        src, pkt = ether_ip(frame)
        if src != mac or pkt is None:
            continue
        t = ip_tuple(pkt)
        if t is not None and not is_link_control(t):
            yield t


def flow_key(t):
    proto, src, sport, dst, dport, _ = t
    if proto not in ("tcp", "udp"):
        sport = dport = 0
    return proto, src, sport, dst, dport


def print_flows(counts):
    for key in sorted(counts):
        proto, src, sport, dst, dport = key
        print("%s %s %d %s %d %d" % (proto, src, sport, dst, dport, counts[key]))


def flows(args, allow=None):
    path, mac = args[0], args[args.index("--mac") + 1]
    counts = {}
    for t in sent_tuples(path, mac):
        key = flow_key(t)
        if allow and key[0] == allow[0] and {key[1], key[3]} & {allow[1]} \
                and {key[2], key[4]} == {allow[2], allow[3]}:
            continue
        counts[key] = counts.get(key, 0) + 1
    print_flows(counts)


def leaks(args):
    proto, addr, p1, p2 = args[args.index("--allow") + 1].split(",")
    flows(args, (proto, addr, int(p1), int(p2)))


# ---------------------------------------------------------------- replay JSON

def json_objects(text):
    """Every JSON value of a document or of JSON lines."""
    try:
        yield json.loads(text)
        return
    except ValueError:
        pass
    for line in text.splitlines():
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except ValueError:
                pass


def walk_flows(value):
    if isinstance(value, dict):
        if {"verdict", "dir", "iface", "proto"} <= value.keys():
            yield value
        else:
            for v in value.values():
                yield from walk_flows(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_flows(v)


def replay_flows(args):
    """Flows replay says passed out on IFACE: those it flags as leaks
    ("leak": true, from --leaks) on that interface, or, from a replay that
    does not flag them, the passed flows whose first packet went out."""
    path, iface = args[0], args[args.index("--iface") + 1]
    with open(path) as f:
        text = f.read()
    counts = {}
    for doc in json_objects(text):
        for fl in walk_flows(doc):
            if fl.get("iface") != iface:
                continue
            if "leak" in fl:
                if fl["leak"] is not True:
                    continue
            elif fl.get("verdict") != "pass" or fl.get("dir") != "out":
                continue
            proto = fl["proto"]
            if isinstance(proto, int) or str(proto).isdigit():
                proto = PROTO_NAMES.get(int(proto), str(proto))
            proto = {"ipv6-icmp": "icmp6", "icmpv6": "icmp6"}.get(proto, proto)
            sport, dport = fl.get("sport") or 0, fl.get("dport") or 0
            if proto not in ("tcp", "udp"):
                sport = dport = 0
            src, dst = fl["src"], fl["dst"]
            if proto == "icmp6" and (dst.startswith("fe8") or dst.startswith("ff02:")):
                continue  # link-local ICMPv6 control: left out on both sides
            key = (proto, src, int(sport), dst, int(dport))
            counts[key] = counts.get(key, 0) + int(fl.get("packets") or 1)
    print_flows(counts)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        return serve(args)
    if cmd == "probe":
        return probe(args)
    if cmd == "flows":
        return flows(args)
    if cmd == "leaks":
        return leaks(args)
    if cmd == "replayflows":
        return replay_flows(args)
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
