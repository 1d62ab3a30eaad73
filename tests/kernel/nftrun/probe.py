#!/usr/bin/python3
"""Probes for the nftrun tests: UDP datagrams sent from a client namespace,
counted on the far side.

  listen PORT FILE        count datagrams received on PORT (any address);
                          FILE gets one line "ADDR N" per destination address
                          of the host, rewritten on every datagram
  send DST PORT SECONDS INTERVAL_MS
                          send one datagram every INTERVAL_MS for SECONDS;
                          prints how many were sent (sendto errors, e.g.
                          EPERM from a blocking output hook, count as sent)
  notify PATH FILE        listen on a datagram socket at PATH as systemd's
                          notify socket does; append every message to FILE
"""
import os
import socket
import sys
import time


def listen(port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_IP, 8, 1)  # IP_PKTINFO
    s.bind(("0.0.0.0", port))
    counts = {}
    with open(path + ".tmp", "w") as f:
        f.write("")
    os.rename(path + ".tmp", path)
    print("ready", flush=True)
    while True:
        data, anc, _flags, _addr = s.recvmsg(2048, 256)
        dst = "?"
        for level, typ, val in anc:
            if level == socket.SOL_IP and typ == 8:
                dst = socket.inet_ntoa(val[8:12])
        counts[dst] = counts.get(dst, 0) + 1
        with open(path + ".tmp", "w") as f:
            for k, v in sorted(counts.items()):
                f.write("%s %d\n" % (k, v))
        os.rename(path + ".tmp", path)


def send(dst, port, seconds, interval_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        try:
            s.sendto(b"probe %d" % n, (dst, port))
        except OSError:
            pass
        n += 1
        time.sleep(interval_ms / 1000.0)
    print(n)


def notify(path, out):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    print("ready", flush=True)
    while True:
        data = s.recv(4096)
        with open(out, "a") as f:
            f.write(data.decode(errors="replace").replace("\n", "|") + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "listen":
        listen(int(sys.argv[2]), sys.argv[3])
    elif cmd == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "notify":
        notify(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown mode " + cmd)
