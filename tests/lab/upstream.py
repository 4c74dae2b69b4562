#!/usr/bin/env python3
"""upstream.py - the lab's HTTPS echo server (standard library only).

    upstream.py --certdir DIR --listen ADDR:PORT [--listen [V6ADDR]:PORT ...]
    upstream.py --gen N [--seed S]      write /bytes/N?seed=S's body to stdout

The certificate is picked by SNI from DIR/NAME.crt + DIR/NAME.key, falling
back to DIR/default.crt for no SNI or an unknown name (see mkcerts.sh).
--seclevel 0 and --max-tls 1.1 make a server that sluice must refuse
(tests/integration/41*).

Endpoints (any method; HEAD gets the head only):
  /echo[?q]          JSON: method, path (with query), headers (list of
                     [name, value] as received), body_len, body_sha256,
                     conn_id and req (this request's number in the
                     request log).  Bodies are hashed as they stream in, with
                     Content-Length or chunked framing, never held whole.
  /bytes/N?seed=S    N deterministic pseudo-random bytes, Content-Length
  /chunked/N?seed=S  the same bytes, chunked transfer encoding
  /status/NNN        that status; 204 and 304 carry no body
  /headers?k=v&...   200, with each k: v added to the response headers
  /slow/SECONDS      sleeps, then answers like /echo
  /close             answers like /echo, then closes the connection
  /early/NNN         answers NNN at once (JSON, Content-Length, Connection:
                     close) without reading the request body, then reads
                     and drops the body until the peer closes (at most
                     30 s) before closing: the way a server refuses an
                     upload early without destroying its own answer
  /until-close/N?cut=clean|dirty|rst
                     N bytes as /bytes/N has them, delimited by the close
                     (no Content-Length, no chunked), then after 0.5 s:
                     close_notify and close (clean), a close without
                     close_notify (dirty, the default), or a TCP reset (rst)
  /pause/SECONDS     chunked: a chunk "first\n", SECONDS of silence, then
                     "second\n" and the end
  /cache/ANY?k=v&... for cache tests: JSON with "n" (how many requests this
                     process got for this exact target, path with query,
                     this one included; also in the X-Upstream-Count field),
                     method, path, headers and req as /echo has them.  Parameters:
                       cc=V      Cache-Control: V
                       etag=V    ETag: "V" (V as is when it starts with " or
                                 W/); etag=auto: "v<n>", new on every request
                       lm=V      Last-Modified: V, or if V is an integer N,
                                 N seconds before this process started (the
                                 same on every request)
                       exp=V     Expires: N seconds from now (may be
                                 negative) if V is an integer, else V as is
                       vary=V    Vary: V
                       status=N  that status (204 and 304 without a body)
                       size=N    body padded with spaces to N bytes
                       age=V     Age: V
                       te=V      Transfer-Encoding: V (ending in chunked)
                                 (gzip-compressed first when V names gzip)
                       then=X    from the second request for this target
                                 on: X=NNN answers that status (JSON, no
                                 cache fields); X=close closes the
                                 connection without an answer
                     A GET or HEAD whose If-None-Match names the ETag (or,
                     without If-None-Match, whose If-Modified-Since is not
                     before Last-Modified) gets a 304 with the same fields
                     and no body.

Every response carries X-Conn-Id: a number per accepted TCP connection, so a
test can tell whether two requests shared an upstream connection.  The /echo
JSON also carries "sni": the server name the connection's client sent.

--request-log FILE appends one JSON object per line to FILE: for every
accepted connection {"event": "conn", "listen", "client", "sni", "tls"
("ok" or the handshake error)}, and for every request head
{"event": "request", "listen", "conn_id", "sni", "method", "path",
"headers", "req"}, for every JSON answer {"event": "answer", "req", "status",
"length"} (its body's bytes), and once its body has been read whole (to its length, or to the
end of its chunks and trailers) {"event": "body", "listen", "conn_id", "path",
"body_len"}, so a test can tell what reached this server (and what did not).
"""

import argparse
import email.utils
import hashlib
import http.server
import itertools
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import warnings

BLOCK = 65536


def gen_blocks(n, seed):
    """Yield exactly n bytes: SHAKE-256 of "seed:i" in 64 KiB blocks."""
    i = 0
    while n > 0:
        size = min(n, BLOCK)
        yield hashlib.shake_256(("%s:%d" % (seed, i)).encode()).digest(size)
        n -= size
        i += 1


_conn_ids = itertools.count(1)
# Every request head this process read: "req" in the request log and in
# the /echo and /cache answers, so a test can find what the upstream got
# (sluice masks the credentials an answer echoes on its way back).
_req_ids = itertools.count(1)

# /cache: requests per target, for the whole process.
_cache_counts = {}
_cache_lock = threading.Lock()
_started = time.time()

# The SNI callback runs in the thread doing the handshake; the connection's
# thread reads the name from here afterwards.
_tls_local = threading.local()


class RequestLog:
    """--request-log: one JSON object per line, written whole under a lock."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def write(self, **obj):
        if self.f is None:
            return
        line = json.dumps(obj) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-test-upstream/1"
    # Keep-alive idles forever otherwise; a test never waits this long.
    timeout = 120

    def setup(self):
        super().setup()
        self.conn_id = next(_conn_ids)
        self.sni = getattr(_tls_local, "sni", None)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("upstream conn=%d %s\n" % (self.conn_id, fmt % args))

    # --- request bodies -------------------------------------------------

    def _read_body(self):
        """Consume the request body; return (length, sha256 hex)."""
        h = hashlib.sha256()
        total = 0
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunk size")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailers until the empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if not t:
                            raise ConnectionError("eof in trailers")
                        if t in (b"\r\n", b"\n"):
                            break
                    break
                left = size
                while left:
                    b = self.rfile.read(min(left, BLOCK))
                    if not b:
                        raise ConnectionError("eof in chunk")
                    h.update(b)
                    total += len(b)
                    left -= len(b)
                self.rfile.readline(3)
        else:
            left = int(self.headers.get("Content-Length", "0") or 0)
            while left:
                b = self.rfile.read(min(left, BLOCK))
                if not b:
                    raise ConnectionError("eof in body")
                h.update(b)
                total += len(b)
                left -= len(b)
        return total, h.hexdigest()

    # --- responses ------------------------------------------------------

    def _head(self, status, headers=(), length=None, chunked=False):
        self.send_response(status)
        self.send_header("X-Conn-Id", str(self.conn_id))
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_json(self, status, obj, extra=()):
        body = (json.dumps(obj) + "\n").encode()
        self.server.reqlog.write(event="answer", req=getattr(self, "req_id", None),
                                 status=status, length=len(body))
        self._head(status, [("Content-Type", "application/json")] + list(extra),
                   length=len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self, body_len, body_sha):
        return {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": body_len,
            "body_sha256": body_sha,
            "conn_id": self.conn_id,
            "sni": self.sni,
            "req": self.req_id,
        }

    def _handle(self):
        self.req_id = next(_req_ids)
        self.server.reqlog.write(
            event="request", listen=self.server.listen_str, conn_id=self.conn_id,
            sni=self.sni, method=self.command, path=self.path,
            headers=[[k, v] for k, v in self.headers.items()], req=self.req_id)
        if self.path.startswith("/early/"):
            self._early(int(urllib.parse.urlsplit(self.path).path.split("/")[2]))
            return
        try:
            body_len, body_sha = self._read_body()
        except (ValueError, ConnectionError) as e:
            self.log_message("bad body: %s", e)
            self.close_connection = True
            return
        self.server.reqlog.write(
            event="body", listen=self.server.listen_str, conn_id=self.conn_id,
            path=self.path, body_len=body_len)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        seed = dict(query).get("seed", "0")
        head_only = self.command == "HEAD"
        try:
            if parts[0] == "echo":
                self._send_json(200, self._echo(body_len, body_sha))
            elif parts[0] in ("bytes", "chunked") and len(parts) == 2:
                n = int(parts[1])
                chunked = parts[0] == "chunked"
                self._head(200, [("Content-Type", "application/octet-stream")],
                           length=n, chunked=chunked)
                if head_only:
                    return
                for b in gen_blocks(n, seed):
                    if chunked:
                        self.wfile.write(b"%x\r\n" % len(b) + b + b"\r\n")
                    else:
                        self.wfile.write(b)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            elif parts[0] == "status" and len(parts) == 2:
                code = int(parts[1])
                if code in (204, 304) or code < 200:
                    self._head(code)
                else:
                    self._send_json(code, {"status": code})
            elif parts[0] == "headers":
                self._send_json(200, {"headers": query}, extra=query)
            elif parts[0] == "slow" and len(parts) == 2:
                time.sleep(float(parts[1]))
                self._send_json(200, self._echo(body_len, body_sha))
            elif parts[0] == "close":
                self.close_connection = True
                self._send_json(200, self._echo(body_len, body_sha),
                                extra=[("Connection", "close")])
            elif parts[0] == "cache":
                self._cache(query, body_len)
            elif parts[0] == "until-close" and len(parts) == 2:
                self._until_close(int(parts[1]), seed,
                                  dict(query).get("cut", "dirty"))
            elif parts[0] == "pause" and len(parts) == 2:
                self._head(200, [("Content-Type", "text/plain")], chunked=True)
                self.wfile.write(b"6\r\nfirst\n\r\n")
                self.wfile.flush()
                time.sleep(float(parts[1]))
                self.wfile.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
            else:
                self._send_json(404, {"error": "no such endpoint"})
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def _early(self, code):
        self.close_connection = True
        self._send_json(code, {"status": code, "early": True},
                        extra=[("Connection", "close")])
        self.wfile.flush()
        self.connection.settimeout(30)
        try:
            while self.connection.recv(BLOCK):
                pass
        except (OSError, ValueError):
            pass

    def _until_close(self, n, seed, cut):
        self.close_connection = True
        self.send_response(200)
        self.send_header("X-Conn-Id", str(self.conn_id))
        self.send_header("Connection", "close")
        self.end_headers()
        for b in gen_blocks(n, seed):
            self.wfile.write(b)
        self.wfile.flush()
        time.sleep(0.5)
        if cut == "clean":
            try:
                self.connection.unwrap()	# close_notify
            except OSError:
                pass
        elif cut == "rst":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        # dirty: finish_request() closes without close_notify

    def _cache(self, query, body_len):
        q = dict(query)
        with _cache_lock:
            n = _cache_counts.get(self.path, 0) + 1
            _cache_counts[self.path] = n
        now = time.time()
        fields = [("X-Upstream-Count", str(n))]
        etag = q.get("etag")
        if etag == "auto":
            etag = '"v%d"' % n
        elif etag is not None and not etag.startswith(('"', "W/")):
            etag = '"%s"' % etag
        lm = q.get("lm")
        if lm is not None and lm.lstrip("-").isdigit():
            lm = email.utils.formatdate(_started - int(lm), usegmt=True)
        exp = q.get("exp")
        if exp is not None and exp.lstrip("-").isdigit():
            exp = email.utils.formatdate(now + int(exp), usegmt=True)
        for name, v in (("Cache-Control", q.get("cc")), ("ETag", etag),
                        ("Last-Modified", lm), ("Expires", exp),
                        ("Vary", q.get("vary")), ("Age", q.get("age"))):
            if v is not None:
                fields.append((name, v))
        then = q.get("then")
        if then is not None and n > 1:
            if then == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send_json(int(then), {"n": n, "status": int(then)},
                            extra=[("X-Upstream-Count", str(n))])
            return

        if "delay" in q:	# seconds before answering (collapsing tests)
            time.sleep(float(q["delay"]))
        status = int(q.get("status", "200"))
        if self.command in ("GET", "HEAD") and status == 200 and \
                self._not_modified(etag, lm):
            self._head(304, fields)
            return
        if status in (204, 304) or status < 200:
            self._head(status, fields)
            return
        obj = {"n": n, "method": self.command, "path": self.path,
               "headers": [[k, v] for k, v in self.headers.items()],
               "body_len": body_len, "req": self.req_id}
        line = json.dumps(obj)
        size = int(q.get("size", "0"))
        body = (line + " " * max(0, size - len(line) - 1) + "\n").encode()
        te = q.get("te")
        if te is not None:
            if "gzip" in te:
                # Imported here: every lab starts two upstreams, and gzip
                # is a seventh of their start-up for a few cache tests.
                import gzip
                body = gzip.compress(body)
            self._head(status, [("Content-Type", "application/json"),
                                ("Transfer-Encoding", te)] + fields)
            if self.command != "HEAD":
                half = len(body) // 2
                for b in (body[:half], body[half:]):
                    self.wfile.write(b"%x\r\n" % len(b) + b + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            return
        self._head(status, [("Content-Type", "application/json")] + fields,
                   length=len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_modified(self, etag, lm):
        def weak(t):
            t = t.strip()
            return t[2:] if t.startswith("W/") else t
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            if etag is None:
                return False
            return any(t.strip() == "*" or weak(t) == weak(etag)
                       for t in inm.split(","))
        ims = self.headers.get("If-Modified-Since")
        if ims is None or lm is None:
            return False
        try:
            a = email.utils.parsedate_to_datetime(lm)
            b = email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return a <= b

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle
    do_HEAD = _handle


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, family, ctx, verbose, reqlog, listen_str):
        self.address_family = family
        self.ctx = ctx
        self.verbose = verbose
        self.reqlog = reqlog
        self.listen_str = listen_str
        super().__init__(addr, Handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        return sock, addr

    def finish_request(self, request, client_address):
        # The handshake runs in the connection's own thread, so a client
        # that never finishes it cannot stall the accept loop.
        request.settimeout(30)
        _tls_local.sni = None
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.reqlog.write(event="conn", listen=self.listen_str,
                              client="%s:%s" % client_address[:2],
                              sni=_tls_local.sni, tls=str(e))
            if self.verbose:
                sys.stderr.write("upstream handshake from %s: %s\n" % (client_address, e))
            return
        self.reqlog.write(event="conn", listen=self.listen_str,
                          client="%s:%s" % client_address[:2],
                          sni=_tls_local.sni, tls="ok")
        tls.settimeout(Handler.timeout)
        try:
            Handler(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def load_contexts(certdir, seclevel=None, max_tls=None):
    def ctx_for(name):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Before the certificate: a level that refuses its key refuses it.
        if seclevel is not None:
            c.set_ciphers("DEFAULT:@SECLEVEL=%d" % seclevel)
            c.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        if max_tls is not None:
            with warnings.catch_warnings():	# TLS 1.1 is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                c.maximum_version = max_tls
        c.load_cert_chain(os.path.join(certdir, name + ".crt"),
                          os.path.join(certdir, name + ".key"))
        c.set_alpn_protocols(["http/1.1"])
        return c

    by_name = {}
    for f in os.listdir(certdir):
        if f.endswith(".crt") and f != "default.crt":
            by_name[f[:-4].lower()] = ctx_for(f[:-4])
    default = ctx_for("default")

    def sni(sslobj, name, _ctx):
        _tls_local.sni = name
        if name and name.lower() in by_name:
            sslobj.context = by_name[name.lower()]
        return None

    default.sni_callback = sni
    return default


TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def parse_listen(s):
    host, _, port = s.rpartition(":")
    if host.startswith("["):
        return (host[1:-1], int(port)), socket.AF_INET6
    return (host, int(port)), socket.AF_INET


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--certdir")
    ap.add_argument("--listen", action="append", default=[])
    ap.add_argument("--gen", type=int, metavar="N")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--request-log", metavar="FILE")
    ap.add_argument("--seclevel", type=int, metavar="N",
                    help="OpenSSL security level N (0 serves RSA-1024 keys, "
                    "SHA-1 signatures and TLS 1.0/1.1)")
    ap.add_argument("--max-tls", choices=sorted(TLS_VERSIONS),
                    help="the newest TLS version offered")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    if a.gen is not None:
        out = sys.stdout.buffer
        for b in gen_blocks(a.gen, a.seed):
            out.write(b)
        out.flush()
        return 0
    if not a.certdir or not a.listen:
        ap.error("--certdir and at least one --listen are required")

    ctx = load_contexts(a.certdir, a.seclevel,
                        TLS_VERSIONS[a.max_tls] if a.max_tls else None)
    reqlog = RequestLog(a.request_log)
    servers = [Server(*parse_listen(l), ctx, a.verbose, reqlog, l) for l in a.listen]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    sys.stderr.write("upstream ready on %s\n" % ", ".join(a.listen))
    sys.stderr.flush()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
