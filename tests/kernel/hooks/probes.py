# probes.py WEB4 WEB6 SRV_A SRV_B [PORT...]: every 100 ms, traffic that would
# leak without a kill switch: UDP and TCP SYN to the internet (v4, v6), ICMP
# echo, and UDP to the VPN servers' ports (default 51820 and 1194).
import socket, sys, time, subprocess
web4, web6, a, b = sys.argv[1:5]
ports = [int(p) for p in sys.argv[5:]] or [51820, 1194]
def udp(fam, addr, port):
    try:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.sendto(b"probe", (addr, port))
        s.close()
    except OSError:
        pass
def tcp(fam, addr, port):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, port))
        time.sleep(0.01)
        s.close()
    except OSError:
        pass
while True:
    udp(socket.AF_INET, web4, 53)
    udp(socket.AF_INET6, web6, 53)
    tcp(socket.AF_INET, web4, 80)
    tcp(socket.AF_INET6, web6, 443)
    for srv in (a, b):
        for p in ports:
            udp(socket.AF_INET, srv, p)
    subprocess.run(["ping", "-c1", "-W0.05", "-q", web4], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.1)
