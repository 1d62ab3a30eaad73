#!/usr/bin/python3
# Test helper: one long-lived TCP connection to an echo peer. Every INTERVAL
# seconds, sends a line and prints "SECONDS ok" when it comes back, or
# "SECONDS lost" when it does not within a second; stops after COUNT
# exchanges or three losses in a row. Usage:
#   session.py HOST PORT INTERVAL COUNT
import socket, sys, time
host, port, interval, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((host, port), timeout=2)
s.settimeout(1)
s.recv(2)  # the peer's greeting
print("connected", s.getsockname()[1], flush=True)
start = time.monotonic()
lost = 0
for i in range(count):
    try:
        s.sendall(b"x")
        ok = s.recv(10) == b"x"
    except OSError:
        ok = False
    print("%.2f %s" % (time.monotonic() - start, "ok" if ok else "lost"), flush=True)
    lost = 0 if ok else lost + 1
    if lost == 3:
        break
    time.sleep(interval)
