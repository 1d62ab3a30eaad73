#!/usr/bin/python3
"""Real packets through a host namespace that runs 'ifwall load', for the
nft tests (tests/kernel/nft/t_traffic.sh builds the network: see net.sh).

Runs inside the host namespace. Packets 'in' are Ethernet frames written on
the peer's end of a veth (AF_PACKET, in the peer namespace), so they arrive
on the host's interface as from the wire; delivery is seen on raw sockets of
the host (which get a copy only of what the input hook let through).
Packets 'out' are written on raw IP sockets of the host bound to the
interface (they cross the output hook like any local packet); delivery is
seen on the peer's end of the veth.

Modes (one PASS/FAIL line per check):
  verdicts RULES NAME   every generated packet: 'ifwall query' says pass or
                        not and which rule; the kernel must deliver exactly
                        the passed ones and count each on that rule
                        ('ifwall show --json').
  forward RULES NAME    packets forwarded between the host's interfaces: both
                        sides' verdicts (in on one, out on the other) and
                        counters agree with 'ifwall query'.
  atomic A B N NAME     reload A and B alternately N times while sending:
                        packets both pass must all arrive, packets both
                        block must never arrive.
  send DIR IF PROTO SRC DST DPORT   one packet; prints delivered|dropped.
"""
import ctypes
import errno
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time

from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest, IPv6, Raw  # noqa: E402

IFWALL = os.environ["IFWALL"]
PEER_NS = os.environ["PEER_NS"]
# host interface -> (peer interface, host v4, peer v4, host v6, peer v6)
IFACES = json.loads(os.environ["IFACES"])
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def in_netns(path, fn):
    """Runs fn() with the calling thread in the network namespace at path."""
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        return fn()
    finally:
        libc.setns(here, CLONE_NEWNET)
        os.close(here)
        os.close(there)


class Net:
    send_error = None   # errno name of the last out packet's sendto, if it failed
    def __init__(self):
        self.peer = {}
        self.host_mac = {}
        self.peer_mac = {}
        for ifname, spec in IFACES.items():
            self.host_mac[ifname] = open("/sys/class/net/%s/address" % ifname).read().strip()

            def open_peer(p=spec[0]):
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
                s.bind((p, 0))
                s.setblocking(False)
                mac = ":".join("%02x" % b for b in s.getsockname()[4])
                return s, mac
            self.peer[ifname], self.peer_mac[ifname] = in_netns("/var/run/netns/" + PEER_NS, open_peer)
        self.raw_in = []
        for fam, protos in ((socket.AF_INET, (6, 17, 1)), (socket.AF_INET6, (6, 17, 58))):
            for p in protos:
                s = socket.socket(fam, socket.SOCK_RAW, p)
                s.setblocking(False)
                self.raw_in.append(s)
        self.seq = random.randrange(1 << 20)

    def drain(self):
        for s in self.raw_in + list(self.peer.values()):
            while True:
                try:
                    s.recv(65535)
                except (BlockingIOError, OSError):
                    break

    def token(self):
        self.seq += 1
        return b"ifwnft%010d" % self.seq

    def build(self, pkt, token):
        """pkt: dict(dir, ifname, proto, src, dst, sport, dport, icmp_type)."""
        v6 = ":" in pkt["dst"]
        l3 = IPv6(src=pkt["src"], dst=pkt["dst"]) if v6 else IP(src=pkt["src"], dst=pkt["dst"])
        proto = pkt["proto"]
        if proto == "tcp":
            l4 = TCP(sport=pkt["sport"], dport=pkt["dport"], flags="S", seq=self.seq)
        elif proto == "udp":
            l4 = UDP(sport=pkt["sport"], dport=pkt["dport"])
        elif proto == "icmp":
            l4 = ICMP(type=pkt.get("icmp_type", 8), id=self.seq & 0xffff)
        else:
            l4 = ICMPv6EchoRequest(id=self.seq & 0xffff)
        return l3 / l4 / Raw(token)

    def send(self, pkt, wait=0.12):
        """Sends one packet; returns True when it was delivered."""
        token = self.token()
        ip = self.build(pkt, token)
        ifname = pkt["ifname"]
        if pkt["dir"] == "in":
            frame = Ether(src=self.peer_mac[ifname], dst=self.host_mac[ifname]) / ip
            self.peer[ifname].send(bytes(frame))
            watch = self.raw_in
        else:
            v6 = ":" in pkt["dst"]
            s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                              socket.IPPROTO_RAW)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            if pkt.get("mark"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, pkt["mark"])
            self.send_error = None
            try:
                s.sendto(bytes(ip), (pkt["dst"], 0))
            except OSError as e:
                self.send_error = errno.errorcode.get(e.errno, str(e.errno))  # EPERM: the output hook dropped it
            s.close()
            if self.send_error == "EPERM":
                return False    # dropped on the way out: nothing to wait for
            watch = [self.peer[ifname]]
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select(watch, [], [], left)
            for s in ready:
                while True:
                    try:
                        data = s.recv(65535)
                    except (BlockingIOError, OSError):
                        break
                    if token in data:
                        return True


def describe(pkt):
    """The packet as an 'ifwall query' description."""
    def ep(addr, port):
        if port is None:
            return addr
        return ("[%s]:%d" % (addr, port)) if ":" in addr else "%s:%d" % (addr, port)
    ports = pkt["proto"] in ("tcp", "udp")
    d = "%s on %s iftype ether %s %s > %s" % (
        pkt["dir"], pkt["ifname"], pkt["proto"],
        ep(pkt["src"], pkt["sport"] if ports else None),
        ep(pkt["dst"], pkt["dport"] if ports else None))
    if pkt["proto"] == "icmp":
        d += " type echo-request"
    if pkt["proto"] == "icmp6":
        d += " type echo-request"
    if pkt["dir"] == "out" and not pkt.get("nouser"):
        d += " user 0"
        if pkt.get("mark"):
            d += " mark 0x%x" % pkt["mark"]
    return d


REMOTE4 = ["198.51.100.7", "10.64.0.1", "10.8.0.1", "9.9.9.9", "203.0.113.10",
           "203.0.113.11", "203.0.113.66", "192.0.2.5", "100.64.1.1", "10.1.2.3",
           "172.16.5.5", "192.168.7.7", "1.1.1.1"]
REMOTE6 = ["2001:db8:1::1", "2a00:1450::1", "fd00:8::1", "fd12::5", "3fff::1"]
TEMPLATES = [("udp", 53), ("tcp", 53), ("tcp", 22), ("tcp", 80), ("tcp", 443),
             ("udp", 51820), ("udp", 1194), ("udp", 7777), ("udp", 67), ("udp", 547)]


def generate(seed):
    """A fixed pseudo-random mix of packets over every interface."""
    rnd = random.Random(seed)
    pkts = []
    for ifname, (_, h4, _, h6, _) in sorted(IFACES.items()):
        for direction in ("in", "out"):
            for remote in REMOTE4:
                proto, dport = rnd.choice(TEMPLATES + [("icmp", None)])
                pkts.append(dict(dir=direction, ifname=ifname, proto=proto,
                                 remote=remote, local=h4, dport=dport))
            for remote in REMOTE6:
                proto, dport = rnd.choice(TEMPLATES + [("icmp6", None)])
                pkts.append(dict(dir=direction, ifname=ifname, proto=proto,
                                 remote=remote, local=h6, dport=dport))
            # the endpoint, with and without the mark; DHCP-like ports
            pkts.append(dict(dir=direction, ifname=ifname, proto="udp", remote="198.51.100.7",
                             local=h4, dport=51820, mark=0xca6c))
            pkts.append(dict(dir=direction, ifname=ifname, proto="udp", remote="203.0.113.10",
                             local=h4, dport=1194))
            pkts.append(dict(dir=direction, ifname=ifname, proto="udp", remote="10.64.0.1",
                             local=h4, dport=53))
            # (in and out use different servers: one flow's reply must not
            # be another packet of the test)
            pkts.append(dict(dir=direction, ifname=ifname, proto="udp",
                             remote="192.168.1.254" if direction == "out" else "192.168.1.1",
                             local=h4, dport=67 if direction == "out" else 68,
                             sport=68 if direction == "out" else 67))
    for i, p in enumerate(pkts):
        p.setdefault("sport", 20000 + i)
        if p["dport"] is None:
            p["dport"] = 0
        if p["dir"] == "in":
            p["src"], p["dst"] = p["remote"], p["local"]
        else:
            p["src"], p["dst"] = p["local"], p["remote"]
    return pkts


def query(rules, pkts):
    descs = [describe(p) for p in pkts]
    out = subprocess.run([IFWALL, "query", "--json", rules] + descs, capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.abspath(rules)) or ".")
    if out.returncode != 0:
        raise SystemExit("FAIL query: %s" % out.stderr.strip()[:300])
    return [json.loads(line) for line in out.stdout.splitlines()]


def counters():
    out = subprocess.run([IFWALL, "show", "--json"], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    c = {}
    for r in d["rules"]:
        c[(r["rule"], r["text"])] = r["packets"]
    for key in ("skip", "default_in", "default_out"):
        if d.get(key):
            c[(key, None)] = d[key]["packets"]
    return c


def expected_key(q, pkt, keys):
    if q["rule"] == "default":
        return ("default_" + pkt["dir"], None)
    if q["rule"] == "skip":
        return ("skip", None)
    for rule, text in keys:
        if rule == q["rule"] and text is not None and (
                text == q["text"] or (text.endswith("...") and q["text"].startswith(text[:-3]))):
            return (rule, text)
    return (q["rule"], q["text"])


def mode_verdicts(rules, name):
    net = Net()
    pkts = generate(name)
    verdicts = query(rules, pkts)
    before = counters()
    bad = []
    tally = {"pass": 0, "block": 0, "reject": 0}
    for pkt, q in zip(pkts, verdicts):
        net.drain()
        want = q["verdict"] == "pass"
        # a packet that should arrive gets time to (5 s: a busy machine is
        # slow; an arrival ends the wait); one that should not is also
        # caught by the counter of the rule that must have dropped it
        delivered = net.send(pkt, wait=5 if want else 0.06)
        after = counters()
        key = expected_key(q, pkt, after.keys())
        moved = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        moved = {k: v for k, v in moved.items() if v}
        before = after
        tally[q["verdict"]] += 1
        problem = []
        if delivered != want:
            problem.append("kernel %s" % ("delivered" if delivered else "dropped"))
        if moved.get(key, 0) < 1:
            problem.append("counted on %s, not %s" % (
                ", ".join("%s" % (k[0],) for k in moved) or "nothing", key[0]))
        if problem:
            bad.append("[%s] query: %s %s; %s" % (describe(pkt), q["verdict"], q["rule"],
                                                  "; ".join(problem)))
    if bad:
        print("FAIL nft-verdicts-%s: %d of %d packets differ: %s" % (
            name, len(bad), len(pkts), " | ".join(bad[:4])))
    else:
        print("PASS nft-verdicts-%s: %d packets (%d pass, %d block, %d reject): kernel delivery "
              "and the deciding rule's counter agree with ifwall query" % (
                  name, len(pkts), tally["pass"], tally["block"], tally["reject"]))


def mode_atomic(rules_a, rules_b, loads, name):
    net = Net()
    pkts = generate(name)
    va, vb = query(rules_a, pkts), query(rules_b, pkts)
    both_pass = [p for p, a, b in zip(pkts, va, vb) if a["verdict"] == b["verdict"] == "pass"]
    both_block = [p for p, a, b in zip(pkts, va, vb) if a["verdict"] != "pass" and b["verdict"] != "pass"]
    differ = len(pkts) - len(both_pass) - len(both_block)
    if not both_pass or not both_block or not differ:
        print("FAIL nft-atomic-%s: the two rule sets should share passes and blocks and differ "
              "elsewhere (%d/%d/%d)" % (name, len(both_pass), len(both_block), differ))
        return
    reloader = subprocess.Popen(
        ["bash", "-c", 'for i in $(seq %d); do "$0" load "$1" 2>/dev/null || exit 1; '
         '"$0" load "$2" 2>/dev/null || exit 1; done' % (loads // 2), IFWALL, rules_a, rules_b])
    sent = lost = leaked = 0
    lost_list, leaked_list = [], []
    while reloader.poll() is None or sent < 200:
        p = random.choice(both_pass)
        sent += 1
        if not net.send(p, wait=5):
            lost += 1
            why = " (sendto: %s)" % net.send_error if p["dir"] == "out" and net.send_error else ""
            lost_list.append(describe(p) + why)
        q = random.choice(both_block)
        sent += 1
        if net.send(q, wait=0.02):
            leaked += 1
            leaked_list.append(describe(q))
    rc = reloader.wait()
    if rc != 0:
        print("FAIL nft-atomic-%s: a reload failed (exit %d)" % (name, rc))
    elif lost or leaked:
        print("FAIL nft-atomic-%s: during %d reloads, %d packets both rule sets pass were dropped "
              "(%s), %d both block passed (%s)" % (name, loads, lost, "; ".join(lost_list[:2]),
                                                   leaked, "; ".join(leaked_list[:2])))
    else:
        print("PASS nft-atomic-%s: %d packets during %d alternating reloads: none of those both "
              "rule sets pass was dropped, none of those both block passed" % (name, sent, loads))


# Forwarded traffic: destinations routed through each interface (t_traffic.sh
# adds the routes), sources that are no address of the host.
FORWARD_DST = {"eth0": ("203.0.113.80", "2001:db8:80::80"),
               "wg0": ("198.18.0.80", "2001:db8:18::80"),
               "tun0": ("198.19.0.80", "2001:db8:19::80")}
FORWARD_SRC = {"eth0": ("192.168.1.50", "2001:db8:1::50"),
               "wg0": ("10.64.0.50", "fd00:64::50"),
               "tun0": ("10.8.0.50", "fd00:8::50")}


def mode_forward(rules, name):
    """A forwarded packet is checked 'in' on its ingress interface, then
    'out' on its egress interface: delivered iff both pass, and the deciding
    rule of each evaluated side counts it."""
    net = Net()
    rnd = random.Random(name)
    pkts = []
    for fin in sorted(FORWARD_SRC):
        for fout in sorted(FORWARD_DST):
            if fin == fout:
                continue
            for v6 in (False, True):
                for _ in range(4):
                    proto, dport = rnd.choice(TEMPLATES + [("icmp6" if v6 else "icmp", 0)])
                    pkts.append(dict(ifname=fin, out_if=fout, proto=proto, dport=dport,
                                     sport=30000 + len(pkts), src=FORWARD_SRC[fin][v6],
                                     dst=FORWARD_DST[fout][v6]))
    ins = [dict(p, dir="in") for p in pkts]
    outs = [dict(p, dir="out", ifname=p["out_if"]) for p in pkts]
    # forwarded packets have no local owner: no 'user' in the description
    q_in = query(rules, ins)
    q_out = query(rules, [dict(o, nouser=True) for o in outs])
    before = counters()
    bad = []
    delivered_n = 0
    for pin, pout, qi, qo in zip(ins, outs, q_in, q_out):
        net.drain()
        token = net.token()
        ip = net.build(pin, token)
        frame = Ether(src=net.peer_mac[pin["ifname"]], dst=net.host_mac[pin["ifname"]]) / ip
        net.peer[pin["ifname"]].send(bytes(frame))
        want = qi["verdict"] == "pass" and qo["verdict"] == "pass"
        delivered = False
        deadline = time.monotonic() + (5 if want else 0.06)
        watch = net.peer[pout["ifname"]]
        while not delivered and time.monotonic() < deadline:
            ready, _, _ = select.select([watch], [], [], max(0, deadline - time.monotonic()))
            while ready:
                try:
                    data = watch.recv(65535)
                except (BlockingIOError, OSError):
                    break
                if token in data:
                    delivered = True
                    break
        after = counters()
        moved = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        before = after
        delivered_n += delivered
        problem = []
        if delivered != want:
            problem.append("kernel %s" % ("delivered" if delivered else "dropped"))
        ki = expected_key(qi, pin, after.keys())
        if moved.get(ki, 0) < 1:
            problem.append("in side not counted on %s" % ki[0])
        if qi["verdict"] == "pass":
            ko = expected_key(qo, pout, after.keys())
            if moved.get(ko, 0) < 1:
                problem.append("out side not counted on %s" % ko[0])
        if problem:
            bad.append("[%s / out on %s] query: %s %s, %s %s; %s" % (
                describe(pin), pout["ifname"], qi["verdict"], qi["rule"], qo["verdict"],
                qo["rule"], "; ".join(problem)))
    if bad:
        print("FAIL nft-forward-%s: %d of %d forwarded packets differ: %s" % (
            name, len(bad), len(pkts), " | ".join(bad[:3])))
    else:
        print("PASS nft-forward-%s: %d forwarded packets (%d delivered): delivery and both "
              "sides' counters agree with ifwall query" % (name, len(pkts), delivered_n))


def mode_send(direction, ifname, proto, src, dst, dport):
    net = Net()
    pkt = dict(dir=direction, ifname=ifname, proto=proto, src=src, dst=dst,
               sport=random.randrange(20000, 60000), dport=int(dport))
    print("delivered" if net.send(pkt, wait=5) else "dropped")


if __name__ == "__main__":
    m = sys.argv[1]
    if m == "verdicts":
        mode_verdicts(sys.argv[2], sys.argv[3])
    elif m == "atomic":
        mode_atomic(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif m == "forward":
        mode_forward(sys.argv[2], sys.argv[3])
    elif m == "send":
        mode_send(*sys.argv[2:8])
    else:
        raise SystemExit("unknown mode " + m)
