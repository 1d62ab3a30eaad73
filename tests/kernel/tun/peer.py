#!/usr/bin/python3
"""Traffic ends for the tun backend tests.

  peer.py serve NAME ADDR...         TCP 8080 and UDP 5353 servers answering NAME,
                                     TCP 8081 counting what it receives, TCP 8082 sending
                                     as many bytes as asked, UDP 5354 echoing
                                     (UDP bound to each ADDR, so replies come from it)
  peer.py tcp ADDR PORT [TIMEOUT [SRC]]
                                     connect (from SRC), print 'ok NAME', 'refused', 'timeout' or the error
  peer.py udp ADDR PORT [TIMEOUT]    send one datagram, print 'ok NAME', 'refused', 'unreachable', 'timeout'
  peer.py upload ADDR BYTES [TIMEOUT] send BYTES to port 8081: 'ok BYTES' when all arrived
  peer.py download ADDR BYTES [TIMEOUT]
                                     receive BYTES from port 8082: 'ok BYTES' when all came
  peer.py stream ADDR SECONDS STEP   send to port 8081 for SECONDS; print the bytes the
                                     receiver acknowledged in each STEP seconds, one a line
  peer.py udpburst ADDR COUNT SIZE [TIMEOUT]
                                     send COUNT datagrams of SIZE bytes at once to UDP 5354,
                                     'ok COUNT' when every echo came back unchanged
  peer.py ping ADDR [TIMEOUT]        one ICMP echo: 'ok', 'unreachable' (ICMP error), 'timeout'
  peer.py udpflow ADDR PORT SECONDS  one UDP flow (fixed source port) for at most SECONDS,
                                     a datagram every 0.1 s (or when the last one's wait
                                     ended); prints 'R' (reply within 0.5 s) or '.' (none)
                                     per datagram as it goes
"""
import errno
import os
import socket
import sys
import threading
import time


def serve(name, addrs):
    reply = name.encode()

    def tcp():
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('::', 8080))
        s.listen(64)
        while True:
            c, _ = s.accept()
            try:
                c.sendall(reply)
            except OSError:
                pass
            c.close()

    def udp(addr):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.bind((addr, 5353))
        while True:
            _, peer = s.recvfrom(2048)
            s.sendto(reply, peer)

    def sink_one(c):
        total = 0
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                total += len(data)
            c.sendall(str(total).encode())
        except OSError:
            pass
        c.close()

    def sink():
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('::', 8081))
        s.listen(64)
        while True:
            c, _ = s.accept()
            threading.Thread(target=sink_one, args=(c,), daemon=True).start()

    def source_one(c):
        try:
            want = int(c.recv(64).decode())
            chunk = b'y' * 65536
            while want > 0:
                want -= c.send(chunk[:min(want, len(chunk))])
        except (OSError, ValueError):
            pass
        c.close()

    def source():
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('::', 8082))
        s.listen(64)
        while True:
            c, _ = s.accept()
            threading.Thread(target=source_one, args=(c,), daemon=True).start()

    def echo(addr):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        big_receive_buffer(s)
        s.bind((addr, 5354))
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)

    threading.Thread(target=tcp, daemon=True).start()
    threading.Thread(target=sink, daemon=True).start()
    threading.Thread(target=source, daemon=True).start()
    for addr in addrs:
        threading.Thread(target=udp, args=(addr,), daemon=True).start()
        threading.Thread(target=echo, args=(addr,), daemon=True).start()
    while True:
        time.sleep(3600)


SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; not in Python's socket module


def big_receive_buffer(s):
    """Room for a burst that arrives all at once (as root, past rmem_max)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


def family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def outcome(e):
    if isinstance(e, socket.timeout):
        return 'timeout'
    if e.errno == errno.ECONNREFUSED:
        return 'refused'
    if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES):
        return 'unreachable'
    return 'error ' + errno.errorcode.get(e.errno, str(e.errno))


def tcp(addr, port, timeout, src=None):
    s = socket.socket(family(addr))
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    try:
        s.connect((addr, port))
        data = s.recv(64)
        print('ok ' + data.decode())
    except OSError as e:
        print(outcome(e))


def udp(addr, port, timeout):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        s.send(b'hello')
        data = s.recv(64)
        print('ok ' + data.decode())
    except OSError as e:
        print(outcome(e))


def upload(addr, size, timeout):
    s = socket.socket(family(addr))
    s.settimeout(timeout)
    try:
        s.connect((addr, 8081))
        s.sendall(b'x' * size)
        s.shutdown(socket.SHUT_WR)
        print('ok ' + s.recv(64).decode())
    except OSError as e:
        print(outcome(e))


def download(addr, size, timeout):
    s = socket.socket(family(addr))
    s.settimeout(timeout)
    got = 0
    try:
        s.connect((addr, 8082))
        s.sendall(str(size).encode())
        while got < size:
            data = s.recv(1 << 20)
            if not data:
                break
            got += len(data)
        print('ok %d' % got if got == size else 'short %d' % got)
    except OSError as e:
        print(outcome(e))


def bytes_acked(s):
    """tcpi_bytes_acked from struct tcp_info (Linux 4.1)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int.from_bytes(info[120:128], sys.byteorder)


def stream(addr, seconds, step):
    s = socket.socket(family(addr))
    s.settimeout(2)
    s.connect((addr, 8081))
    s.setblocking(False)
    chunk = b'z' * 65536
    end = time.time() + seconds
    mark, acked = time.time() + step, 0
    while time.time() < end:
        try:
            s.send(chunk)
        except BlockingIOError:
            time.sleep(0.001)
        if time.time() >= mark:
            now = bytes_acked(s)
            print(now - acked, flush=True)
            acked, mark = now, mark + step
    s.close()


def udpburst(addr, count, size, timeout):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    big_receive_buffer(s)
    s.connect((addr, 5354))
    sent = [i.to_bytes(4, 'big') + bytes([i & 0xff]) * (size - 4) for i in range(count)]
    for d in sent:
        s.send(d)
    got, bad = set(), 0
    end = time.time() + timeout
    while len(got) < count and time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError as e:
            print(outcome(e))
            return
        i = int.from_bytes(d[:4], 'big')
        if i < count and d == sent[i]:
            got.add(i)
        else:
            bad += 1
    print('ok %d' % count if len(got) == count and not bad else
          'got %d of %d, %d bad' % (len(got), count, bad))


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(int.from_bytes(data[i:i + 2], 'big') for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def ping(addr, timeout):
    """One echo request over a raw socket (no ping binary needed)."""
    v6 = ':' in addr
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = (os.getpid() * 7919 + (time.time_ns() >> 20)) & 0xffff
    header = bytes([128 if v6 else 8, 0, 0, 0]) + ident.to_bytes(2, 'big') + b'\0\1'
    packet = header + b'ifwall'
    if not v6:
        c = checksum(packet)
        packet = packet[:2] + c.to_bytes(2, 'big') + packet[4:]
    s.sendto(packet, (addr, 0))
    end = time.time() + timeout
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        icmp = data if v6 else data[(data[0] & 15) * 4:]
        if v6:
            echo_reply, errors = 129, (1, 2, 3, 4)
            quoted_id = icmp[8 + 40 + 4:8 + 40 + 6] if len(icmp) >= 54 else b''
        else:
            echo_reply, errors = 0, (3, 11, 12)
            inner = icmp[8:]
            ihl = (inner[0] & 15) * 4 if inner else 0
            quoted_id = inner[ihl + 4:ihl + 6]
        if icmp[0] == echo_reply and icmp[4:6] == ident.to_bytes(2, 'big'):
            print('ok')
            return
        if icmp[0] in errors and quoted_id == ident.to_bytes(2, 'big'):
            print('unreachable')
            return
    print('timeout')


def udpflow(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, port))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        s.setblocking(False)
        try:
            while True:         # a late reply to an earlier datagram is not this one's
                s.recv(64)
        except OSError:
            pass
        s.settimeout(0.5)       # a busy machine answers late, not never
        try:
            s.send(b'x')
            s.recv(64)
            sys.stdout.write('R')
        except OSError:
            sys.stdout.write('.')
        sys.stdout.flush()
        time.sleep(max(0, 0.1 - (time.monotonic() - start)))
    print()


def main():
    mode = sys.argv[1]
    if mode == 'serve':
        serve(sys.argv[2], sys.argv[3:])
    elif mode == 'tcp':
        tcp(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 2,
            sys.argv[5] if len(sys.argv) > 5 else None)
    elif mode == 'udp':
        udp(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 2)
    elif mode == 'upload':
        upload(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 5)
    elif mode == 'download':
        download(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 5)
    elif mode == 'stream':
        stream(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    elif mode == 'udpburst':
        udpburst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                 float(sys.argv[5]) if len(sys.argv) > 5 else 3)
    elif mode == 'ping':
        ping(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 2)
    elif mode == 'udpflow':
        udpflow(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)


main()
