#!/usr/bin/env python3
"""rawup.py - a raw HTTPS origin for framing tests (standard library only).

    rawup.py --cert CRT --key KEY --listen ADDR:PORT --log FILE

Unlike upstream.py, nothing here is http.server: it reads the bytes a
client sends, splits them into requests the way a plain origin would
(Content-Length, else a chunked Transfer-Encoding, else no body), and logs
one JSON object per line to FILE:

  {"event": "request", "conn": N, "method", "path", "headers": [[k, v]...],
   "body": latin-1 text, "wire": latin-1 text}
                                           one per request it framed; wire is
                                           the body as framed (chunk lines,
                                           trailers)
  {"event": "garbage", "conn": N, "data": latin-1 text}
                                           bytes that do not parse as a request
  {"event": "close", "conn": N, "raw": latin-1 text}
                                           every byte the connection carried

Each request is answered by its path:
  /resp/cl-named    Content-Length 5 named in Connection, body "hello"
  /resp/te-named    chunked named in Connection, body "hello"
  /resp/hop-fields  chunked "hello" with every field HTTP/2 forbids in a
                    response (Connection naming X-Hop, X-Hop, Keep-Alive,
                    Proxy-Connection, Upgrade), X-Upper-Case: Yes and a value
                    padded with spaces
  /resp/101         a 101 to "Upgrade: evil", then "surprise" bytes
  /resp/ws          a 101 to "Upgrade: websocket", then echoes what it gets
  /resp/chunked-ext chunked "hello world" in chunks with extensions, then
                    trailers: X-Sum (may be one), Content-Length and
                    Set-Cookie (may not)
  /resp/echo-auth   a 302 that echoes what the request carried: Location
                    /moved with the request's query, X-Seen-Auth with its
                    Authorization, X-Seen-Key with its X-Key; fresh for 60 s
  /resp/split-echo?at=N&frame=cl|chunked|close
                    200, body {"seen": AUTHORIZATION} (JSON, the request's
                    Authorization) sent in two writes 0.3 s apart, split
                    at body byte N: with Content-Length (cl), as two chunks
                    (chunked), or delimited by the close (close)
  /resp/trailer-echo
                    200, chunked body "ok\n" with the trailer X-Seen-Auth:
                    the request's Authorization
  /resp/gzip-echo   200, Content-Encoding: gzip whatever the request
                    accepts, the body {"seen": AUTHORIZATION} gzipped
  anything else     200 with a JSON body {"method", "path", "n"} where n
                    counts the requests on this connection
"""

import argparse
import gzip
import itertools
import json
import socket
import ssl
import threading
import time
import urllib.parse

_ids = itertools.count(1)


class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **obj):
        with self.lock:
            self.f.write(json.dumps(obj) + "\n")
            self.f.flush()


def parse_request(buf):
    """(method, path, headers, body, wire, rest), None if incomplete, or
    ("garbage", data) when the bytes cannot be a request."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return ("garbage", buf[:end + 4])
    headers = []
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if not sep:
            return ("garbage", buf[:end + 4])
        headers.append([k, v.strip()])
    rest = buf[end + 4:]
    whole = rest
    fields = {k.lower(): v for k, v in headers}
    body = b""
    if "content-length" in fields:
        n = int(fields["content-length"])
        if len(rest) < n:
            return None
        body, rest = rest[:n], rest[n:]
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        pos = 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                fin = rest.find(b"\r\n\r\n", eol)
                if fin < 0 and rest[eol:eol + 4] != b"\r\n\r\n":
                    return None
                rest = rest[(fin if fin >= 0 else eol) + 4:]
                break
            if len(rest) < eol + 2 + size + 2:
                return None
            body += rest[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    wire = whole[:len(whole) - len(rest)]
    return (parts[0], parts[1], headers, body, wire, rest)


def echo_answer(path, auth):
    """The /resp/*-echo answers: (bytes or a list of writes, then)."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    body = (json.dumps({"seen": auth}) + "\n").encode("latin-1")
    if path.startswith("/resp/gzip-echo"):
        z = gzip.compress(body)
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" %
                len(z) + z), False
    if path.startswith("/resp/trailer-echo"):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                b"Trailer: X-Seen-Auth\r\n\r\n3\r\nok\n\r\n0\r\n"
                b"X-Seen-Auth: %s\r\n\r\n" % auth.encode("latin-1")), False
    at, frame = int(q.get("at", "0")), q.get("frame", "cl")
    one, two = body[:at], body[at:]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if frame == "chunked":
        return [head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" %
                len(one) + one + b"\r\n",
                b"%x\r\n" % len(two) + two + b"\r\n0\r\n\r\n"], False
    if frame == "close":
        return [head + b"Connection: close\r\n\r\n" + one, two], "close"
    return [head + b"Content-Length: %d\r\n\r\n" % len(body) + one,
            two], False


def answer(path, n, headers=()):
    if path == "/resp/cl-named":
        return (b"HTTP/1.1 200 OK\r\nConnection: content-length\r\n"
                b"Content-Length: 5\r\n\r\nhello"), False
    if path == "/resp/te-named":
        return (b"HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), False
    if path == "/resp/chunked-ext":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                b"Trailer: X-Sum\r\n\r\n"
                b"5;ext=1\r\nhello\r\n6 ; q=\"a b\"\r\n world\r\n"
                b"0;last\r\nX-Sum: abc\r\nContent-Length: 99\r\n"
                b"Set-Cookie: s=1\r\n\r\n"), False
    if path == "/resp/hop-fields":
        return (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: hop\r\n"
                b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                b"Upgrade: h2c\r\nX-Upper-Case: Yes\r\nX-Pad:   padded   \r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), False
    if path.split("?")[0] == "/resp/echo-auth":
        seen = {k.lower(): v for k, v in headers}
        query = path.partition("?")[2]
        return (b"HTTP/1.1 302 Found\r\nLocation: /moved%s\r\n"
                b"X-Seen-Auth: %s\r\nX-Seen-Key: %s\r\n"
                b"Cache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n" %
                (("?" + query if query else "").encode("latin-1"),
                 seen.get("authorization", "-").encode("latin-1"),
                 seen.get("x-key", "-").encode("latin-1"))), False
    if path.split("?")[0] in ("/resp/split-echo", "/resp/trailer-echo",
                              "/resp/gzip-echo"):
        seen = {k.lower(): v for k, v in headers}
        return echo_answer(path, seen.get("authorization", "-"))
    if path == "/resp/101":
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\n"
                b"Connection: upgrade\r\n\r\nsurprise"), True
    if path == "/resp/ws":
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: upgrade\r\n\r\n"), True
    body = json.dumps({"path": path, "n": n}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body), False


def serve(tls, log):
    cid = next(_ids)
    raw = b""
    buf = b""
    n = 0
    tunnel = False
    try:
        while True:
            data = tls.recv(65536)
            if not data:
                break
            raw += data
            if tunnel:
                tls.sendall(data)
                continue
            buf += data
            while buf and not tunnel:
                r = parse_request(buf)
                if r is None:
                    break
                if r[0] == "garbage":
                    log.write(event="garbage", conn=cid, data=r[1].decode("latin-1"))
                    buf = buf[len(r[1]):]
                    continue
                method, path, headers, body, wire, buf = r
                n += 1
                log.write(event="request", conn=cid, method=method, path=path,
                          headers=headers, body=body.decode("latin-1"),
                          wire=wire.decode("latin-1"))
                resp, then = answer(path, n, headers)
                for i, part in enumerate(resp if isinstance(resp, list) else [resp]):
                    if i > 0:
                        time.sleep(0.3)     # a read of its own at the proxy
                    tls.sendall(part)
                if then == "close":
                    raise EOFError     # the body ends with the connection
                tunnel = then
    except EOFError:
        try:
            tls.unwrap()        # close_notify: the body ended cleanly
        except (OSError, ValueError):
            pass
    except (OSError, ValueError):
        pass
    finally:
        log.write(event="close", conn=cid, raw=raw.decode("latin-1"))
        try:
            tls.close()
        except OSError:
            pass


def main(handler=serve, doc=__doc__):
    """Serve TLS on --listen, each connection by handler(tls, log) in a
    thread of its own (wsecho.py serves its own handler this way)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    fam = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    log = Log(a.log)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), int(port)))
    s.listen(64)
    while True:
        c, _ = s.accept()
        c.settimeout(30)

        def run(c=c):
            try:
                tls = ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                c.close()
                return
            handler(tls, log)
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
