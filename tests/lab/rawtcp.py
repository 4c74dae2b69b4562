#!/usr/bin/env python3
"""rawtcp.py - raw TCP ends for passthrough tunnels (standard library only).

    rawtcp.py serve --listen ADDR:PORT --log FILE --send N [--seed S]
                    [--shut-first]
    rawtcp.py client --to ADDR:PORT --sni NAME --send N [--seed S]
                     --expect M [--shut-first]

Neither end speaks TLS: the client opens with a real ClientHello for NAME
(made by ssl.MemoryBIO, so sluice's peek sees the SNI and passes the
connection through), then sends N pseudo-random bytes (upstream.py --gen's
bytes for seed S) and reads whatever comes back.  What crosses the tunnel
is bytes, hashed at both ends.

serve: per connection, sends N bytes while reading until EOF, then closes;
with --shut-first it sends the N bytes and its FIN (shutdown SHUT_WR) at
once, then reads until EOF.  One JSON line per connection to FILE:
{"received", "received_sha256", "sent", "sent_sha256"}.

client: sends the ClientHello and N bytes while reading; by default waits
until M bytes came before its FIN, then reads until EOF; with
--shut-first it sends its FIN as soon as its bytes are written.  Prints
one JSON line: {"sent", "sent_sha256", "received", "received_sha256",
"eof", "secs"}.
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hello import hello_for  # noqa: E402
from upstream import gen_blocks  # noqa: E402  the bytes --gen writes

CHUNK = 65536


class Reader(threading.Thread):
    """Reads s until EOF (or until want bytes, then keeps reading)."""

    def __init__(self, s, want=None):
        super().__init__(daemon=True)
        self.s, self.want = s, want
        self.n, self.h = 0, hashlib.sha256()
        self.eof = False
        self.got_want = threading.Event()

    def run(self):
        try:
            while True:
                b = self.s.recv(CHUNK)
                if not b:
                    self.eof = True
                    break
                self.n += len(b)
                self.h.update(b)
                if self.want is not None and self.n >= self.want:
                    self.got_want.set()
        except OSError:
            pass
        self.got_want.set()


def send_all(s, first, n, seed):
    h = hashlib.sha256(first)
    s.sendall(first)
    for b in gen_blocks(n, seed):
        s.sendall(b)
        h.update(b)
    return len(first) + n, h.hexdigest()


def serve_one(conn, args, log, lock):
    reader = Reader(conn)
    reader.start()
    sent, sha = send_all(conn, b"", args.send, args.seed)
    if args.shut_first:
        conn.shutdown(socket.SHUT_WR)
    reader.join(120)
    conn.close()
    with lock:
        log.write(json.dumps({"received": reader.n,
                              "received_sha256": reader.h.hexdigest(),
                              "sent": sent, "sent_sha256": sha}) + "\n")
        log.flush()


def serve(args):
    host, _, port = args.listen.rpartition(":")
    ls = socket.create_server((host, int(port)))
    log = open(args.log, "a", encoding="utf-8")
    lock = threading.Lock()
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve_one, args=(conn, args, log, lock),
                         daemon=True).start()


def client(args):
    host, _, port = args.to.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=60)
    s.settimeout(None)
    start = time.monotonic()
    reader = Reader(s, args.expect)
    reader.start()
    sent, sha = send_all(s, hello_for(args.sni)[3], args.send, args.seed)
    if not args.shut_first:
        reader.got_want.wait(120)
    s.shutdown(socket.SHUT_WR)
    reader.join(120)
    s.close()
    print(json.dumps({"sent": sent, "sent_sha256": sha,
                      "received": reader.n,
                      "received_sha256": reader.h.hexdigest(),
                      "eof": reader.eof,
                      "secs": round(time.monotonic() - start, 3)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("serve", "client"))
    p.add_argument("--listen")
    p.add_argument("--log")
    p.add_argument("--to")
    p.add_argument("--sni")
    p.add_argument("--send", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--shut-first", action="store_true")
    args = p.parse_args()
    serve(args) if args.mode == "serve" else client(args)


if __name__ == "__main__":
    sys.exit(main())
