#!/usr/bin/env python3
"""Opens N WebSocket connections to HOST:PORT/ws that upgrade and then never send a frame.

Prints "ready N" once every upgrade got its 101, then keeps the sockets open until stdin
closes or the process is killed. Used by benches/idle.sh; standard library only.
"""
import base64
import os
import resource
import socket
import sys


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit(f"connection {i}: closed during the upgrade")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            sys.exit(f"connection {i}: {head.splitlines()[0]!r}")
        socks.append(s)
    print(f"ready {len(socks)}", flush=True)
    sys.stdin.read()


main()
