#!/usr/bin/python3
# Test peer: accepts TCP connections on the given ports (answers "hi" and
# echoes), echoes UDP datagrams. Usage: peer.py tcp:80,81 udp:53,54
import select, socket, sys, threading

def tcp_client(c):
    try:
        c.sendall(b"hi")
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()

socks = []
for spec in sys.argv[1:]:
    kind, ports = spec.split(":", 1)
    for port in ports.split(","):
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, int(port)))
            if kind == "tcp":
                s.listen(512)
            socks.append((kind, s))
print("ready", flush=True)
while True:
    ready, _, _ = select.select([s for _, s in socks], [], [])
    for s in ready:
        if s.type == socket.SOCK_STREAM:
            c, _ = s.accept()
            threading.Thread(target=tcp_client, args=(c,), daemon=True).start()
        else:
            d, a = s.recvfrom(65536)
            s.sendto(d, a)
