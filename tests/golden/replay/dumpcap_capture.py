"""Writes a pcapng with Debian's dumpcap capturing two interfaces of
different link types at once ('dumpcap -i eth0 -i wg0': Ethernet and raw
IP), run inside a throwaway network namespace (ip netns exec). eth0 is a
veth, wg0 a TUN device held by this script. Sends, again and again until
dumpcap has its packets (-c), the endpoint handshake out of eth0
(192.0.2.1:N > 198.51.100.7:51820, which the kill switch passes: a leak for
--leaks '!wg0') and a datagram through the tunnel (10.64.0.2:N >
1.1.1.1:443). Usage: dumpcap_capture.py OUT.pcapng"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000


def ip(*args):
    subprocess.run(['ip'] + list(args), check=True)


def main(out):
    tun = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', b'wg0', IFF_TUN | IFF_NO_PI))
    # Only the test's packets: no IPv6 autoconfiguration, no ARP.
    subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                    'net.ipv6.conf.default.disable_ipv6=1'], check=True)
    ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
    ip('addr', 'add', '192.0.2.1/24', 'dev', 'eth0')
    ip('link', 'set', 'peer0', 'up')
    ip('link', 'set', 'eth0', 'up')
    ip('neigh', 'add', '192.0.2.254', 'lladdr', '02:00:00:00:00:fe', 'dev', 'eth0')
    ip('route', 'add', '198.51.100.7/32', 'via', '192.0.2.254', 'dev', 'eth0')
    ip('addr', 'add', '10.64.0.2/32', 'dev', 'wg0')
    ip('link', 'set', 'wg0', 'up')
    ip('route', 'add', '1.1.1.0/24', 'dev', 'wg0', 'src', '10.64.0.2')
    # dumpcap says "Capturing on" a little before it really captures: the
    # packets are sent until it has 20 of them (same two flows).
    dc = subprocess.Popen(['dumpcap', '-q', '-i', 'eth0', '-i', 'wg0', '-c', '20', '-w', out],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    eth = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    eth.bind(('192.0.2.1', 41000))
    tunnel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tunnel.bind(('10.64.0.2', 50000))
    deadline = time.time() + 60
    while dc.poll() is None and time.time() < deadline:
        eth.sendto(b'h' * 32, ('198.51.100.7', 51820))
        tunnel.sendto(b'q' * 16, ('1.1.1.1', 443))
        try:
            while os.read(tun, 2048):
                pass
        except BlockingIOError:
            pass
        time.sleep(0.05)
    if dc.poll() is None:
        dc.kill()
        sys.exit('dumpcap did not get its packets: %s' % dc.stderr.read().decode())
    if dc.returncode != 0:
        sys.exit('dumpcap failed: %s' % dc.stderr.read().decode())


if __name__ == '__main__':
    main(sys.argv[1])
