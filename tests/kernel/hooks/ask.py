# ask.py ADDR PORT: prints the first line the server sends (exit 1 if none in 3 s)
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.makefile().readline().strip())
except OSError as e:
    print("no answer:", e, file=sys.stderr)
    sys.exit(1)
