#!/usr/bin/env python3
"""echo.py - a non-HTTP TCP service for the --nfqueue tests.

  echo.py --listen ADDR:PORT [--listen [V6]:PORT]...

Each connection is greeted with "peer IP:PORT\\n" (the address the
connection came from, as this server saw it), then every byte is echoed.
"""
import argparse
import socket
import sys
import threading


def serve(conn, peer):
    with conn:
        conn.sendall(("peer %s:%d\n" % (peer[0], peer[1])).encode())
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def listen(spec):
    host, _, port = spec.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", action="append", required=True)
    args = ap.parse_args()
    for spec in args.listen:
        threading.Thread(target=listen, args=(spec,), daemon=True).start()
    print("echo: listening", file=sys.stderr, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
