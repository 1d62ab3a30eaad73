# stream.py ADDR PORT SECONDS OUT: a TCP flow through the tunnel: sends a
# numbered line every 2 ms and reads the echo; writes JSON to OUT: lines
# sent and echoed, the longest gap between echoes (ms), and the time of the
# last echo.
import json, socket, sys, time, select
addr, port, secs, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.create_connection((addr, port), timeout=3)
s.makefile().readline()
s.setblocking(False)
sent = echoed = 0
buf = b""
last = time.time()
max_gap = 0.0
end = time.time() + secs
nxt = time.time()
while time.time() < end:
    now = time.time()
    if now >= nxt:
        try:
            s.send(b"%d\n" % sent)
            sent += 1
        except BlockingIOError:
            pass
        nxt = now + 0.002
    r, _, _ = select.select([s], [], [], 0.001)
    if r:
        d = s.recv(65536)
        if not d:
            break
        n = d.count(b"\n")
        if n:
            t = time.time()
            max_gap = max(max_gap, t - last)
            last = t
            echoed += n
json.dump({"sent": sent, "echoed": echoed, "max_gap_ms": round(max_gap * 1000, 1),
           "last_echo": last}, open(out, "w"))
