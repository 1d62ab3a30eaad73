#!/usr/bin/python3
# Test helper: new TCP connections to HOST:PORT every INTERVAL seconds for
# SECONDS; prints "passed N failed M" at the end (a connection that is not
# established within a second fails).
import socket, sys, time
host, port, interval, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
passed = failed = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        socket.create_connection((host, port), timeout=1).close()
        passed += 1
    except OSError:
        failed += 1
    time.sleep(interval)
print("passed", passed, "failed", failed, flush=True)
