#!/usr/bin/python3
# Test client: tries every connection given, all at once, and prints one
# line per connection: "SPEC VERDICT MILLISECONDS SPORT" where VERDICT is
#   pass    TCP connected / UDP answered
#   reject  refused or unreachable (a RST or an ICMP error came back)
#   block   nothing came back before the timeout
# Usage: probe.py TIMEOUT tcp:ADDR:PORT udp:ADDR:PORT ... ([v6addr] for IPv6)
# PROBE_MARK=N in the environment sets SO_MARK on every socket (root).
import errno, os, socket, sys, threading, time

timeout = float(sys.argv[1])
results = {}

def split(spec):
    kind, rest = spec.split(":", 1)
    host, port = rest.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return kind, fam, host, int(port)

def probe(spec):
    kind, fam, host, port = split(spec)
    s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    if os.environ.get("PROBE_MARK"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, int(os.environ["PROBE_MARK"], 0))
    t = time.monotonic()
    verdict, sport = "block", 0
    try:
        if kind == "tcp":
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
            sport = s.getsockname()[1]
            s.connect((host, port))
            verdict = "pass"
        else:
            s.connect((host, port))
            sport = s.getsockname()[1]
            # Two tries: the first answer may be an ICMP error. A send the
            # local firewall drops at once fails with EPERM (nft); whether
            # it was answered shows in the next recv.
            for _ in range(2):
                try:
                    s.send(b"probe")
                except OSError as e:
                    if e.errno != errno.EPERM:
                        raise
                try:
                    if s.recv(100) == b"probe":
                        verdict = "pass"
                        break
                except socket.timeout:
                    break
    except socket.timeout:
        verdict = "block"
    except OSError as e:
        verdict = "reject" if e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES) else "error-" + str(e.errno)
    ms = (time.monotonic() - t) * 1000
    results[spec] = "%s %s %.1f %d" % (spec, verdict, ms, sport)
    s.close()

threads = [threading.Thread(target=probe, args=(spec,)) for spec in sys.argv[2:]]
for th in threads:
    th.start()
for th in threads:
    th.join()
for spec in sys.argv[2:]:
    print(results[spec])
