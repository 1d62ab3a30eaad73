#!/usr/bin/python3
# Test helper, both ends of a server-driven stream:
#   ticker.py serve PORT...      accept on each port; send a byte every 50 ms
#   ticker.py read ADDR PORT N   connect, then print the bytes received so
#                                far every 0.2 s, N times (never sends)
import socket, sys, threading, time

if sys.argv[1] == "serve":
    def tick(c):
        try:
            while True:
                c.sendall(b"t")
                time.sleep(0.05)
        except OSError:
            c.close()
    def serve(port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(16)
        while True:
            c, _ = s.accept()
            threading.Thread(target=tick, args=(c,), daemon=True).start()
    for p in sys.argv[2:]:
        threading.Thread(target=serve, args=(int(p),), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)
else:
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=2)
    s.setblocking(False)
    total = 0
    for _ in range(int(sys.argv[4])):
        time.sleep(0.2)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                total += len(d)
        except BlockingIOError:
            pass
        print(total, flush=True)
