#!/usr/bin/env python3
"""h2cache.py - an HTTPS origin that speaks only HTTP/2 (python3-h2), for
the cache tests of sluice's HTTP/2 upstream leg: what upstream.py's /cache/
endpoint does over HTTP/1.1, for the fields revalidation needs.

    h2cache.py --cert FILE --key FILE --listen ADDR:PORT --log FILE

A handshake that does not select h2 is closed.  Every path answers a JSON
body {"n": N, "path": P}, N counting the requests this process got for
that exact target (path with query), this one included (also in
x-upstream-count).  Query parameters:
  cc=V       cache-control: V
  etag=V     etag: "V"; etag=auto: "v<N>", new on every request
  then=NNN   from the second request for the target on: that status,
             without the cache fields
  goaway=1   GOAWAY once the answer is sent, and close: the next request
             needs a new connection
A GET whose if-none-match names the etag gets a 304 with the same fields
and no body.  /echo and /echo?... answer {"n", "path", "headers"} (the
request's fields as [name, value] pairs) instead, with content-length;
with trailer=1, without it and with the trailer x-seen-auth: the request's
authorization.

--log FILE gets one JSON object per line: {"event": "conn", "client"} for
every connection that selected h2, {"event": "request", "conn", "path",
"headers"} for every request head (names lowercase, as HTTP/2 has them).
"""

import argparse
import json
import socket
import ssl
import sys
import threading
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions

_lock = threading.Lock()
_counts = {}
_conns = [0]


def log(f, **obj):
    with _lock:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def not_modified(headers, etag):
    inm = headers.get("if-none-match")
    if inm is None or etag is None:
        return False
    return any(t.strip() in ("*", etag) for t in inm.split(","))


def echo(conn, sid, headers, q):
    """/echo: the request's fields in the body, or the trailers."""
    body = (json.dumps({"n": 1, "path": headers[":path"],
                        "headers": [list(h) for h in headers.items()]}) + "\n").encode()
    fields = [(":status", "200"), ("content-type", "application/json")]
    if q.get("trailer") != "1":
        fields.append(("content-length", str(len(body))))
    conn.send_headers(sid, fields)
    conn.send_data(sid, body, end_stream=q.get("trailer") != "1")
    if q.get("trailer") == "1":
        conn.send_headers(sid, [("x-seen-auth", headers.get("authorization", "-"))],
                          end_stream=True)


def answer(conn, sid, headers):
    """The response to one request: (goaway wanted)."""
    path = headers[":path"]
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    if urllib.parse.urlsplit(path).path == "/echo":
        echo(conn, sid, headers, q)
        return False
    with _lock:
        n = _counts.get(path, 0) + 1
        _counts[path] = n
    fields = [("x-upstream-count", str(n))]
    etag = q.get("etag")
    if etag == "auto":
        etag = '"v%d"' % n
    elif etag is not None:
        etag = '"%s"' % etag
    for name, v in (("cache-control", q.get("cc")), ("etag", etag)):
        if v is not None:
            fields.append((name, v))
    status = 200
    if "then" in q and n > 1:
        status, fields = int(q["then"]), fields[:1]
    elif headers.get(":method") == "GET" and not_modified(headers, etag):
        conn.send_headers(sid, [(":status", "304")] + fields, end_stream=True)
        return q.get("goaway") == "1"
    body = (json.dumps({"n": n, "path": path}) + "\n").encode()
    conn.send_headers(sid, [(":status", str(status)),
                            ("content-type", "application/json"),
                            ("content-length", str(len(body)))] + fields)
    conn.send_data(sid, body, end_stream=True)
    return q.get("goaway") == "1"


def serve(raw, addr, ctx, f):
    try:
        sock = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    if sock.selected_alpn_protocol() != "h2":
        sock.close()
        return
    with _lock:
        _conns[0] += 1
        cid = _conns[0]
    log(f, event="conn", conn=cid, client="%s:%s" % addr[:2])
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    heads = {}
    done = False
    try:
        while not done:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    heads[ev.stream_id] = dict(ev.headers)
                    log(f, event="request", conn=cid,
                        path=heads[ev.stream_id].get(":path"),
                        headers=[list(h) for h in ev.headers])
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length,
                                                   ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    if answer(conn, ev.stream_id, heads.pop(ev.stream_id)):
                        conn.close_connection()
                        done = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    done = True
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.H2Error):
        pass
    sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["h2"])
    f = open(a.log, "a", encoding="utf-8")
    host, _, port = a.listen.rpartition(":")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(64)
    while True:
        raw, addr = ls.accept()
        raw.settimeout(60)
        threading.Thread(target=serve, args=(raw, addr, ctx, f),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
