#!/usr/bin/env python3
"""reqprobe.py - one request per TLS connection, spelled exactly as given,
over HTTP/1.1 or HTTP/2, for the lab tests that try the spellings of an
authority, a target or a field that well-behaved clients never send.

    reqprobe.py --ca FILE --addr IP [--port N] [--sni NAME | --no-sni]
                [--connect HOST:PORT --proxy IP:PORT] (--h1 RAW | --h2 JSON)...

--h1 RAW: the request's bytes, with Python escapes (\\r\\n); sent as they are.
--h2 JSON: a list of [name, value] pairs, pseudo-fields included, sent in
that order as one HEADERS frame with END_STREAM (HPACK literals, nothing
checked or lowercased).  Each request gets its own connection (ALPN
http/1.1 or h2); with --connect, through the explicit proxy's CONNECT
first.  Prints one JSON object per request on its own line: "status" (0
when none came), "headers" ([name, value], lowercased names) and "body"
(text), or "error" (what ended the connection: "rst N", "goaway N",
"closed").
"""
import argparse
import json
import socket
import ssl
import struct
import sys

import hpack

TIMEOUT = 10


def connect(a, alpn):
    if a.connect:
        host, port = a.proxy.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (a.connect, a.connect)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = s.recv(1)
            if not b:
                raise ConnectionError("CONNECT: closed after %r" % head)
            head += b
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionError("CONNECT: %r" % head.split(b"\r\n")[0])
    else:
        s = socket.create_connection((a.addr, a.port), timeout=TIMEOUT)
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols([alpn])
    return ctx.wrap_socket(s, server_hostname=None if a.no_sni else a.sni)


def read_all(s):
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ssl.SSLError, ConnectionError):
        pass
    return data


def h1(a, raw):
    s = connect(a, "http/1.1")
    s.sendall(raw.encode().decode("unicode_escape").encode("latin-1"))
    data = read_all(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    out = {"status": 0, "headers": [], "body": body.decode("latin-1")}
    if lines[0].startswith("HTTP/1."):
        out["status"] = int(lines[0].split(" ")[1])
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        out["headers"].append([k.lower(), v.strip()])
    return out


def frame(kind, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", sid) + payload


def literal(name, value):
    """HPACK literal without indexing, new name: no table, no checks."""
    out = b"\x00"
    for s in (name.encode("latin-1"), value.encode("latin-1")):
        out += _int(len(s), 7) + s
    return out


def _int(v, bits):
    top = (1 << bits) - 1
    if v < top:
        return bytes([v])
    out = [top]
    v -= top
    while v >= 128:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def h2(a, fields):
    s = connect(a, "h2")
    if s.selected_alpn_protocol() != "h2":
        return {"status": 0, "error": "no h2"}
    block = b"".join(literal(k, v) for k, v in fields)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) +
              frame(1, 0x5, 1, block))
    dec = hpack.Decoder()
    out = {"status": 0, "headers": [], "body": ""}
    body = b""
    buf = b""
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            kind, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7fffffff
            p, buf = buf[9:9 + n], buf[9 + n:]
            if kind == 4 and not flags & 1:
                s.sendall(frame(4, 1, 0))
            elif kind == 1 and sid == 1:
                if flags & 0x8:
                    p = p[1:len(p) - p[0]]
                if flags & 0x20:
                    p = p[5:]
                for k, v in dec.decode(p):
                    if k == ":status":
                        out["status"] = int(v)
                    else:
                        out["headers"].append([k, v])
                if flags & 1:
                    return out
            elif kind == 0 and sid == 1:
                body += p
                out["body"] = body.decode("latin-1")
                if flags & 1:
                    return out
            elif kind == 3 and sid == 1:
                out["error"] = "rst %d" % int.from_bytes(p[:4], "big")
                return out
            elif kind == 7:
                out["error"] = "goaway %d" % int.from_bytes(p[4:8], "big")
                return out
        try:
            b = s.recv(65536)
        except (socket.timeout, ssl.SSLError, ConnectionError):
            b = b""
        if not b:
            out["error"] = "closed"
            return out
        buf += b


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--addr")
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--sni", default="api.test")
    p.add_argument("--no-sni", action="store_true")
    p.add_argument("--connect")
    p.add_argument("--proxy")
    p.add_argument("--h1", action="append", default=[], dest="reqs",
                   type=lambda v: ("h1", v))
    p.add_argument("--h2", action="append", default=[], dest="reqs",
                   type=lambda v: ("h2", v))
    a = p.parse_args()
    for kind, v in a.reqs:
        try:
            out = h1(a, v) if kind == "h1" else h2(a, json.loads(v))
        except (OSError, ConnectionError) as e:
            out = {"status": 0, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
