#!/usr/bin/env python3
# A real sd_notify receiver for tests: binds a Unix datagram socket at argv[1]
# ("@name" = abstract namespace, as systemd's NOTIFY_SOCKET), prints "BOUND",
# then one JSON line per datagram: {"ms": <monotonic ms>, "msg": "<text>"}.
# Exits when its stdin closes, so it never outlives the test that started it.
import json, os, select, socket, sys, time

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
print("BOUND", flush=True)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if sys.stdin in r and not os.read(sys.stdin.fileno(), 4096):
        break
    if s in r:
        data = s.recv(65536)
        print(json.dumps({"ms": time.monotonic() * 1000, "msg": data.decode()}), flush=True)
