#!/usr/bin/python3
"""The service manager's side of sd_notify(3), for tests of Type=notify units.

    sd_notify.py SOCKET-PATH

Binds a datagram socket at SOCKET-PATH (give it to the service as
NOTIFY_SOCKET), prints "listening", then one line per message received:
"PID VAR=VALUE;VAR=VALUE..." where PID is the sender's, from the kernel
(SCM_CREDENTIALS), as systemd's NotifyAccess=main checks it.
"""
import os
import socket
import struct
import sys

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o777)
print("listening", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", value[:12])[0]
    text = data.decode(errors="replace").strip().replace("\n", ";")
    print(pid, text, flush=True)
