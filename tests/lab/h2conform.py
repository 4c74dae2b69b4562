#!/usr/bin/python3
"""h2conform.py - HTTP/2 conformance cases for a TLS server's client-facing side.

  h2conform.py --host H --port P --sni NAME --ca FILE [--path /] [--json]
               [--case SUBSTRING] [--timeout SECONDS] [--list]

Runs cases in the spirit of h2spec's (generic, http2 and hpack sections)
against RFC 9113 (HTTP/2) and RFC 7541 (HPACK), one fresh TLS connection
(ALPN h2) per case, and prints one line per case: PASS/FAIL/SKIP, its id,
what it sends and what the server did; then a summary line.  Exit status: 0
when no case failed, 1 when one did, 2 on a usage error, 3 when the server
does not negotiate h2 at all.

Frames are built with hyperframe and header blocks with hpack; where a
library refuses to produce a bad frame or block, the bytes are built by
hand (raw_frame, hpack_int).  Every request carries "h2conform=ID" in its
query (ID the case's id) so a lab test can tell which cases reached the
upstream; a malformed request must never be forwarded.

Expected outcomes, as h2spec checks them:
  connection error X  GOAWAY with code X, or the connection closed
                      (RFC 9113 5.4.1: GOAWAY first is a SHOULD)
  stream error X      RST_STREAM X on the stream, or a connection error X
                      (an endpoint MAY treat a stream error as a
                      connection error)
  malformed           a stream error PROTOCOL_ERROR, or a 4xx answer
                      (RFC 9113 8.1.1: a server MAY answer before
                      resetting); any other answer fails
  ignored             the connection goes on: a PING sent after the case
                      is acknowledged
  answered            a response with a :status on the stream
"""

import argparse
import json
import socket
import ssl
import struct
import sys
import time

import hpack
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame,
                              HeadersFrame, PingFrame, PriorityFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
F_END_STREAM = F_ACK = 0x1
F_END_HEADERS = 0x4
F_PADDED = 0x8
F_PRIORITY = 0x20

# Error codes (RFC 9113 7).
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
          "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, \
    STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = range(10)

# Settings identifiers (RFC 9113 6.5.2).
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)

MAX_WINDOW = 2**31 - 1


def err_name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def raw_frame(ftype, flags, sid, payload=b""):
    """A frame as bytes, whatever its fields say: for the frames the
    libraries refuse to build (bad lengths, stream 0, reserved bits)."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 5.1) with FIRST's high bits set."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(0x80 | (value & 0x7f))
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value, value_huffman=False):
    """A literal field without indexing, new name (RFC 7541 6.2.2); VALUE
    is taken as already Huffman-coded bytes when VALUE_HUFFMAN."""
    return b"\x00" + hpack_int(len(name), 7) + name + \
        hpack_int(len(value), 7, 0x80 if value_huffman else 0) + value


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class NotH2(Exception):
    """The server did not select h2 in ALPN."""


class Conn:
    """One TLS connection speaking raw HTTP/2 frames.  Reading acknowledges
    the server's SETTINGS and PINGs, decodes its header blocks (so the HPACK
    state stays in step) and gives DATA's flow-control credit back, unless
    told not to (auto_window)."""

    def __init__(self, opts):
        self.opts = opts
        ctx = ssl.create_default_context(cafile=opts.ca)
        ctx.set_alpn_protocols(["h2"])
        sock = socket.create_connection((opts.host, opts.port), timeout=opts.timeout)
        self.sock = ctx.wrap_socket(sock, server_hostname=opts.sni)
        if self.sock.selected_alpn_protocol() != "h2":
            self.sock.close()
            raise NotH2("ALPN selected %r" % self.sock.selected_alpn_protocol())
        self.buf = b""
        self.bytes_in = 0
        self.write_failed = False
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self.server_settings = {}
        self.settings_acked = False
        self.block = None       # (stream, bytes) of a header block being received
        self.responses = {}     # stream -> decoded headers of its first non-1xx block
        self.next_id = 1
        self.case_id = "none"  # goes in every request's query
        self.auto_window = True
        self.events = []        # what the server sent, for the report

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *frames):
        data = b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)
        if self.write_failed:
            return
        try:
            self.sock.sendall(data)
        except OSError as e:
            # The server closed on us: reading tells what it said first
            # (a GOAWAY may still be waiting), so the verdict is made there.
            self.write_failed = True
            self.events.append("send failed: %s" % e)

    def sid(self):
        sid = self.next_id
        self.next_id += 2
        return sid

    def handshake(self, settings=None):
        """Preface and SETTINGS, then until the server's SETTINGS arrived
        and ours was acknowledged."""
        self.send(PREFACE, SettingsFrame(0, settings=settings or {}))
        deadline = time.monotonic() + self.opts.timeout
        while not (self.server_settings and self.settings_acked):
            if self.frame(deadline) is None:
                raise Closed("no SETTINGS exchange within %ss" % self.opts.timeout)
        self.events = []

    def recv_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except (ssl.SSLError, OSError) as e:
                raise Closed(str(e))
            if not b:
                raise Closed("EOF")
            self.buf += b
            self.bytes_in += len(b)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self, deadline):
        """The next frame from the server, or None at DEADLINE."""
        head = self.recv_exact(9, deadline)
        if head is None:
            return None
        f, length = Frame.parse_frame_header(memoryview(head))
        body = self.recv_exact(length, deadline + 5)
        if body is None:
            raise Closed("frame body never arrived")
        f.parse_body(memoryview(body))
        self.note(f)
        return f

    def note(self, f):
        """Keeps the connection state in step with frame F and answers what
        must be answered (RFC 9113 6.5.3, 6.7)."""
        t = f.type
        if t == SETTINGS:
            if "ACK" in f.flags:
                self.settings_acked = True
            else:
                self.server_settings.update(f.settings)
                self.server_settings.setdefault("seen", 1)
                self.send(SettingsFrame(0, flags=["ACK"]))
        elif t == PING and "ACK" not in f.flags:
            self.send(PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]))
        elif t in (HEADERS, CONTINUATION):
            data = f.data if self.block is None else self.block[1] + f.data
            self.block = (f.stream_id, data)
            if "END_HEADERS" in f.flags:
                self.block = None
                hdrs = self.dec.decode(data)
                st = dict(hdrs).get(":status", "")
                if not st.startswith("1") and f.stream_id not in self.responses:
                    self.responses[f.stream_id] = hdrs
                self.events.append("HEADERS(%d) %s" % (f.stream_id, st or "trailers"))
        elif t == DATA:
            self.events.append("DATA(%d) %d" % (f.stream_id, len(f.data)))
            n = f.flow_controlled_length
            if self.auto_window and n:
                self.send(WindowUpdateFrame(0, window_increment=n))
                if "END_STREAM" not in f.flags:
                    self.send(WindowUpdateFrame(f.stream_id, window_increment=n))
        elif t == RST_STREAM:
            self.events.append("RST_STREAM(%d) %s" % (f.stream_id, err_name(f.error_code)))
        elif t == GOAWAY:
            self.events.append("GOAWAY %s" % err_name(f.error_code))
        elif t not in (WINDOW_UPDATE, PING, PRIORITY):
            self.events.append("frame type %d" % t)

    def request(self, method="GET", path=None, extra=(), pseudo=None):
        """The header list of a request; PSEUDO replaces the pseudo-header
        fields (for the cases about them)."""
        if path is None:
            base = self.opts.path
            path = base + ("&" if "?" in base else "?") + "h2conform=" + self.case_id
        if pseudo is None:
            pseudo = [(":method", method), (":scheme", "https"),
                      (":authority", self.opts.sni), (":path", path)]
        return list(pseudo) + [("user-agent", "h2conform")] + list(extra)

    def headers(self, sid, hdrs, end_stream=True, end_headers=True, **kw):
        flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
        return HeadersFrame(sid, data=self.enc.encode(hdrs), flags=flags, **kw)


# --- verdicts ----------------------------------------------------------------
# Each returns (passed, what the server did).

def read_until(c, stop, timeout=None):
    """Reads frames until STOP(frame) returns a verdict; EOF gives
    STOP(None), the deadline (False, what was seen)."""
    deadline = time.monotonic() + (timeout or c.opts.timeout)
    while True:
        try:
            f = c.frame(deadline)
        except Closed as e:
            return stop(None) or (False, "closed (%s)" % e)
        if f is None:
            return False, "nothing conclusive within %ss; saw: %s" % (
                timeout or c.opts.timeout, ", ".join(c.events[-6:]) or "nothing")
        v = stop(f)
        if v:
            return v


def conn_error(c, *codes):
    def stop(f):
        if f is None:
            return True, "connection closed without GOAWAY"
        if f.type == GOAWAY:
            return f.error_code in codes, "GOAWAY %s" % err_name(f.error_code)
        return None
    return read_until(c, stop)


def stream_error(c, sid, *codes, malformed=False):
    def stop(f):
        if f is None:
            return True, "connection closed"
        if f.type == GOAWAY:
            return f.error_code in codes, "GOAWAY %s" % err_name(f.error_code)
        if f.type == RST_STREAM and f.stream_id == sid:
            return f.error_code in codes, "RST_STREAM %s" % err_name(f.error_code)
        if malformed and sid in c.responses:
            st = dict(c.responses[sid]).get(":status", "?")
            return st.startswith("4"), "answered %s" % st
        return None     # an answer to the request before the error is no verdict
    return read_until(c, stop)


def malformed(c, sid):
    return stream_error(c, sid, PROTOCOL_ERROR, malformed=True)


def answered(c, sid, timeout=None):
    def stop(f):
        if f is None:
            return False, "connection closed before an answer"
        if sid in c.responses:
            return True, "answered %s" % dict(c.responses[sid]).get(":status")
        if f.type == GOAWAY and f.error_code != NO_ERROR:
            return False, "GOAWAY %s" % err_name(f.error_code)
        if f.type == RST_STREAM and f.stream_id == sid:
            return False, "RST_STREAM %s" % err_name(f.error_code)
        return None
    return read_until(c, stop, timeout)


def ignored(c, payload=b"h2conf!!"):
    """The connection goes on: a PING now is acknowledged."""
    c.send(PingFrame(0, opaque_data=payload))
    return ping_acked(c, payload)


def ping_acked(c, payload):
    """A PING ACK with PAYLOAD arrives before any GOAWAY."""
    def stop(f):
        if f is None:
            return False, "connection closed"
        if f.type == GOAWAY:
            return False, "GOAWAY %s" % err_name(f.error_code)
        if f.type == PING and "ACK" in f.flags:
            return f.opaque_data == payload, "PING acknowledged"
        return None
    return read_until(c, stop)


def error_or_ignored(c, sid, *codes):
    """For frames on a closed stream, which RFC 9113 5.1 lets a server
    ignore: an error with one of CODES, or the connection going on without
    stream SID ever being answered."""
    ok, why = ignored(c)
    if not ok:
        return why.split()[-1] in map(err_name, codes) or why == "connection closed", why
    read_until(c, lambda f: None, timeout=0.5)
    if sid in c.responses:
        return False, "answered %s" % dict(c.responses[sid]).get(":status")
    return True, "ignored"


# --- cases -------------------------------------------------------------------

CASES = []


def case(cid, what, handshake=True, settings=None, late=False):
    """Registers a case.  LATE: the request is malformed only after a
    well-formed head that left its stream open (in its DATA or trailers),
    so a server that streams bodies may have forwarded that head, and part
    of the body, before the error shows; never the whole body."""
    def reg(fn):
        CASES.append({"id": cid, "what": what, "fn": fn, "handshake": handshake,
                      "settings": settings, "late": late})
        return fn
    return reg


def conn_case(cid, what, frame, *codes):
    """Registers a case: one frame after the handshake, a connection error
    with one of CODES expected."""
    def fn(c):
        c.send(frame)
        return conn_error(c, *codes)
    case(cid, what)(fn)


def simple_request(c, extra=(), **kw):
    sid = c.sid()
    c.send(c.headers(sid, c.request(extra=extra, **kw)))
    return sid


def bad_request(cid, what, extra=(), pseudo=None, method="GET"):
    """Registers a case: one request with header list EXTRA (or pseudo-header
    fields PSEUDO) that RFC 9113 8 calls malformed."""
    def fn(c):
        sid = c.sid()
        hdrs = c.request(method=method, extra=extra,
                         pseudo=pseudo(c) if pseudo else None)
        c.send(c.headers(sid, hdrs))
        return malformed(c, sid)
    case(cid, what)(fn)


def post_open(c, extra=()):
    """A POST whose HEADERS leave the stream open."""
    sid = c.sid()
    c.send(c.headers(sid, c.request(method="POST", extra=extra), end_stream=False))
    return sid


def goaway(error=NO_ERROR, last=0):
    return GoAwayFrame(0, last_stream_id=last, error_code=error)


# 3.4  Connection preface

@case("3.4/1", "valid preface and SETTINGS: server SETTINGS first, ours acknowledged",
      handshake=False)
def _(c):
    c.send(PREFACE, SettingsFrame(0))
    first = []

    def stop(f):
        if f is None:
            return False, "connection closed"
        first.append(f.type)
        if first[0] != SETTINGS:
            return False, "first frame was type %d, not SETTINGS" % first[0]
        if c.settings_acked:
            return True, "SETTINGS, then ACK"
        return None
    return read_until(c, stop)


@case("3.4/2", "invalid connection preface: connection error PROTOCOL_ERROR", handshake=False)
def _(c):
    c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", SettingsFrame(0))
    return conn_error(c, PROTOCOL_ERROR)


@case("3.4/3", "preface followed by PING, not SETTINGS: PROTOCOL_ERROR", handshake=False)
def _(c):
    c.send(PREFACE, PingFrame(0, opaque_data=b"12345678"))
    return conn_error(c, PROTOCOL_ERROR)


@case("3.4/4", "HTTP/1.1 request instead of the preface: connection error", handshake=False)
def _(c):
    c.send(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % c.opts.sni.encode())
    return conn_error(c, PROTOCOL_ERROR)


# 4.1  Frame format

@case("4.1/1", "frame of unknown type: ignored")
def _(c):
    c.send(raw_frame(0x42, 0, 0, b"unknown"))
    return ignored(c)


@case("4.1/2", "PING with undefined flags: ignored, acknowledged")
def _(c):
    c.send(raw_frame(PING, 0xf6, 0, b"flagsxxx"))
    return ping_acked(c, b"flagsxxx")


@case("4.1/3", "PING with the reserved bit of the stream id set: ignored")
def _(c):
    c.send(raw_frame(PING, 0, 0x80000000, b"reserved"))
    return ping_acked(c, b"reserved")


@case("4.1/4", "HEADERS with undefined flags: answered")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS | 0x10 | 0x40, sid, block))
    return answered(c, sid)


# 4.2  Frame size

@case("4.2/1", "DATA of SETTINGS_MAX_FRAME_SIZE (16384) bytes: answered")
def _(c):
    sid = post_open(c, extra=[("content-length", "16384")])
    c.send(DataFrame(sid, data=b"a" * 16384, flags=["END_STREAM"]))
    return answered(c, sid)


@case("4.2/2", "DATA above SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR")
def _(c):
    sid = post_open(c)
    c.send(raw_frame(DATA, F_END_STREAM, sid, b"a" * 16385))
    return stream_error(c, sid, FRAME_SIZE_ERROR)


@case("4.2/3", "HEADERS above SETTINGS_MAX_FRAME_SIZE: connection error FRAME_SIZE_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request(extra=[("x-big", "a" * 16500)]), huffman=False)
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS, sid, block))
    return conn_error(c, FRAME_SIZE_ERROR)


conn_case("4.2/4", "unknown frame type above SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
          raw_frame(0x42, 0, 0, b"x" * 16385), FRAME_SIZE_ERROR)


# 4.3  Header compression and decompression

@case("4.3/1", "header block that is not valid HPACK: COMPRESSION_ERROR")
def _(c):
    sid = c.sid()
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS, sid, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))
    return conn_error(c, COMPRESSION_ERROR)


@case("4.3/2", "PRIORITY between HEADERS and CONTINUATION: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:4]),
           PriorityFrame(sid, depends_on=0, stream_weight=15),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, block[4:]))
    return conn_error(c, PROTOCOL_ERROR)


@case("4.3/3", "header block split inside a field across HEADERS and CONTINUATION: answered")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:3]),
           raw_frame(CONTINUATION, 0, sid, block[3:5]),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, block[5:]))
    return answered(c, sid)


# 5.1  Stream states

conn_case("5.1/1", "idle: DATA: PROTOCOL_ERROR",
          DataFrame(1, data=b"x", flags=["END_STREAM"]), PROTOCOL_ERROR)
conn_case("5.1/2", "idle: RST_STREAM: PROTOCOL_ERROR",
          RstStreamFrame(1, error_code=CANCEL), PROTOCOL_ERROR)
conn_case("5.1/3", "idle: WINDOW_UPDATE: PROTOCOL_ERROR",
          WindowUpdateFrame(1, window_increment=100), PROTOCOL_ERROR)


@case("5.1/4", "idle: CONTINUATION: PROTOCOL_ERROR")
def _(c):
    c.send(raw_frame(CONTINUATION, F_END_HEADERS, 1, c.enc.encode(c.request())))
    return conn_error(c, PROTOCOL_ERROR)


@case("5.1/5", "half-closed (remote): DATA: STREAM_CLOSED")
def _(c):
    sid = c.sid()
    c.auto_window = False
    c.send(c.headers(sid, c.request()), DataFrame(sid, data=b"late"))
    return stream_error(c, sid, STREAM_CLOSED)


@case("5.1/6", "half-closed (remote): HEADERS: STREAM_CLOSED")
def _(c):
    sid = c.sid()
    c.auto_window = False
    c.send(c.headers(sid, c.request()),
           c.headers(sid, [("x-trailer", "late")]))
    return stream_error(c, sid, STREAM_CLOSED)


@case("5.1/7", "half-closed (remote): CONTINUATION: STREAM_CLOSED or PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    c.auto_window = False
    c.send(c.headers(sid, c.request()),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, c.enc.encode([("x-a", "b")])))
    return stream_error(c, sid, STREAM_CLOSED, PROTOCOL_ERROR)


@case("5.1/8", "closed after our RST_STREAM: DATA: STREAM_CLOSED")
def _(c):
    sid = post_open(c)
    c.send(RstStreamFrame(sid, error_code=CANCEL), DataFrame(sid, data=b"late"))
    return stream_error(c, sid, STREAM_CLOSED)


@case("5.1/9", "closed after our RST_STREAM: HEADERS: STREAM_CLOSED or PROTOCOL_ERROR, "
      "or ignored")
def _(c):
    sid = post_open(c)
    c.send(RstStreamFrame(sid, error_code=CANCEL), c.headers(sid, [("x-trailer", "late")]))
    return error_or_ignored(c, sid, STREAM_CLOSED, PROTOCOL_ERROR)


@case("5.1/10", "closed after both END_STREAMs: DATA: STREAM_CLOSED")
def _(c):
    sid = simple_request(c)
    ok, why = answered(c, sid)
    if not ok:
        return ok, "first request: " + why
    read_until(c, lambda f: None, timeout=0.3)      # the rest of the answer
    c.send(DataFrame(sid, data=b"late"))
    return stream_error(c, sid, STREAM_CLOSED)


@case("5.1/11", "closed: HEADERS reusing a finished stream id: STREAM_CLOSED or "
      "PROTOCOL_ERROR, or ignored")
def _(c):
    sid = simple_request(c)
    ok, why = answered(c, sid)
    if not ok:
        return ok, "first request: " + why
    read_until(c, lambda f: None, timeout=0.3)
    del c.responses[sid]
    c.send(c.headers(sid, c.request()))
    return error_or_ignored(c, sid, STREAM_CLOSED, PROTOCOL_ERROR)


# 5.1.1  Stream identifiers

@case("5.1.1/1", "HEADERS on an even stream id: PROTOCOL_ERROR")
def _(c):
    c.send(c.headers(2, c.request()))
    return conn_error(c, PROTOCOL_ERROR)


@case("5.1.1/2", "stream id lower than one already opened: PROTOCOL_ERROR, or ignored "
      "(never answered) as nghttp2 does")
def _(c):
    c.send(c.headers(5, c.request()), c.headers(3, c.request()))
    return error_or_ignored(c, 3, PROTOCOL_ERROR)


# 5.1.2  Stream concurrency

@case("5.1.2/1", "more streams than SETTINGS_MAX_CONCURRENT_STREAMS: REFUSED_STREAM or PROTOCOL_ERROR")
def _(c):
    limit = c.server_settings.get(S_MAX_CONCURRENT_STREAMS)
    if limit is None or limit > 1000:
        return None, "server announced %s concurrent streams" % limit
    frames = []
    for _ in range(limit + 1):
        sid = c.sid()
        frames.append(c.headers(sid, c.request(method="POST"), end_stream=False))
    c.send(*frames)
    return stream_error(c, sid, REFUSED_STREAM, PROTOCOL_ERROR)


# 5.5  Extending HTTP/2

@case("5.5/1", "unknown extension frame: ignored")
def _(c):
    c.send(raw_frame(0xfa, 0xff, 1, b"extension payload"))
    return ignored(c)


@case("5.5/2", "unknown frame inside a header block: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block),
           raw_frame(0xfa, 0, sid, b"x"),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, b""))
    return conn_error(c, PROTOCOL_ERROR)


# 6.1  DATA

conn_case("6.1/1", "DATA on stream 0: PROTOCOL_ERROR",
          raw_frame(DATA, F_END_STREAM, 0, b"x"), PROTOCOL_ERROR)


@case("6.1/2", "DATA whose pad length is the whole payload: PROTOCOL_ERROR")
def _(c):
    sid = post_open(c)
    c.send(raw_frame(DATA, F_END_STREAM | F_PADDED, sid, b"\x05abcd"))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("6.1/3", "padded DATA: answered")
def _(c):
    sid = post_open(c, extra=[("content-length", "4")])
    c.send(DataFrame(sid, data=b"abcd", pad_length=8, flags=["END_STREAM", "PADDED"]))
    return answered(c, sid)


# 6.2  HEADERS

@case("6.2/1", "HEADERS on stream 0: PROTOCOL_ERROR")
def _(c):
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS, 0, c.enc.encode(c.request())))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.2/2", "HEADERS whose pad length exceeds the payload: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS | F_PADDED, sid,
                     bytes([len(block) + 1]) + block))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.2/3", "HEADERS without END_HEADERS, then DATA: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    c.send(c.headers(sid, c.request(method="POST"), end_stream=False, end_headers=False),
           DataFrame(sid, data=b"x", flags=["END_STREAM"]))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.2/4", "padded HEADERS: answered")
def _(c):
    sid = c.sid()
    c.send(HeadersFrame(sid, data=c.enc.encode(c.request()), pad_length=16,
                        flags=["END_STREAM", "END_HEADERS", "PADDED"]))
    return answered(c, sid)


@case("6.2/5", "HEADERS with the PRIORITY flag: answered")
def _(c):
    sid = c.sid()
    c.send(HeadersFrame(sid, data=c.enc.encode(c.request()), depends_on=0,
                        stream_weight=200, flags=["END_STREAM", "END_HEADERS", "PRIORITY"]))
    return answered(c, sid)


# 6.3  PRIORITY

conn_case("6.3/1", "PRIORITY on stream 0: PROTOCOL_ERROR",
          raw_frame(PRIORITY, 0, 0, b"\x00\x00\x00\x01\x0f"), PROTOCOL_ERROR)


@case("6.3/2", "PRIORITY of length 4: FRAME_SIZE_ERROR")
def _(c):
    c.send(raw_frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00"))
    return stream_error(c, 1, FRAME_SIZE_ERROR)


@case("6.3/3", "PRIORITY on an idle stream: ignored")
def _(c):
    c.send(PriorityFrame(7, depends_on=0, stream_weight=15))
    return ignored(c)


@case("6.3/4", "PRIORITY on a half-closed (remote) stream: ignored")
def _(c):
    sid = post_open(c)
    c.send(DataFrame(sid, data=b"", flags=["END_STREAM"]),
           PriorityFrame(sid, depends_on=0, stream_weight=15))
    return ignored(c)


# 6.4  RST_STREAM

conn_case("6.4/1", "RST_STREAM on stream 0: PROTOCOL_ERROR",
          raw_frame(RST_STREAM, 0, 0, b"\x00\x00\x00\x08"), PROTOCOL_ERROR)


@case("6.4/2", "RST_STREAM of length 3: FRAME_SIZE_ERROR")
def _(c):
    sid = post_open(c)
    c.send(raw_frame(RST_STREAM, 0, sid, b"\x00\x00\x08"))
    return conn_error(c, FRAME_SIZE_ERROR)


@case("6.4/3", "RST_STREAM on an open stream, then a new request: answered")
def _(c):
    sid = post_open(c)
    c.send(RstStreamFrame(sid, error_code=CANCEL))
    return answered(c, simple_request(c))


# 6.5  SETTINGS

conn_case("6.5/1", "SETTINGS ACK with a payload: FRAME_SIZE_ERROR",
          raw_frame(SETTINGS, F_ACK, 0, b"\x00\x01\x00\x00\x10\x00"), FRAME_SIZE_ERROR)
conn_case("6.5/2", "SETTINGS on stream 1: PROTOCOL_ERROR",
          raw_frame(SETTINGS, 0, 1, b"\x00\x03\x00\x00\x00\x64"), PROTOCOL_ERROR)
conn_case("6.5/3", "SETTINGS of length 5: FRAME_SIZE_ERROR",
          raw_frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00"), FRAME_SIZE_ERROR)
conn_case("6.5.2/1", "SETTINGS_ENABLE_PUSH 2: PROTOCOL_ERROR",
          raw_frame(SETTINGS, 0, 0, struct.pack(">HI", S_ENABLE_PUSH, 2)), PROTOCOL_ERROR)
conn_case("6.5.2/2", "SETTINGS_INITIAL_WINDOW_SIZE 2^31: FLOW_CONTROL_ERROR",
          raw_frame(SETTINGS, 0, 0, struct.pack(">HI", S_INITIAL_WINDOW_SIZE, 2**31)), FLOW_CONTROL_ERROR)
conn_case("6.5.2/3", "SETTINGS_MAX_FRAME_SIZE 16383: PROTOCOL_ERROR",
          raw_frame(SETTINGS, 0, 0, struct.pack(">HI", S_MAX_FRAME_SIZE, 16383)), PROTOCOL_ERROR)
conn_case("6.5.2/4", "SETTINGS_MAX_FRAME_SIZE 2^24: PROTOCOL_ERROR",
          raw_frame(SETTINGS, 0, 0, struct.pack(">HI", S_MAX_FRAME_SIZE, 2**24)), PROTOCOL_ERROR)


@case("6.5.2/5", "SETTINGS with an unknown identifier: acknowledged")
def _(c):
    c.settings_acked = False
    c.send(raw_frame(SETTINGS, 0, 0, struct.pack(">HI", 0xff, 1)))
    return read_until(c, lambda f: (False, "closed") if f is None else
                      (True, "SETTINGS acknowledged") if c.settings_acked else
                      (False, "GOAWAY %s" % err_name(f.error_code)) if f.type == GOAWAY else None)


@case("6.5.3/1", "SETTINGS listing one value twice: the last one applies")
def _(c):
    c.auto_window = False
    c.send(raw_frame(SETTINGS, 0, 0, struct.pack(">HIHI", S_INITIAL_WINDOW_SIZE, 100,
                                                 S_INITIAL_WINDOW_SIZE, 1)))
    sid = simple_request(c)

    def stop(f):
        if f is None:
            return False, "closed"
        if f.type == DATA and f.stream_id == sid and f.data:
            return len(f.data) == 1, "first DATA of %d bytes (window 1)" % len(f.data)
        if f.type in (GOAWAY, RST_STREAM):
            return False, c.events[-1]
        return None
    return read_until(c, stop)


@case("6.5.3/2", "SETTINGS_HEADER_TABLE_SIZE 0 and ENABLE_PUSH 0: answered",
      settings={S_HEADER_TABLE_SIZE: 0, S_ENABLE_PUSH: 0})
def _(c):
    return answered(c, simple_request(c))


# 6.7  PING

@case("6.7/1", "PING: acknowledged with the same payload")
def _(c):
    return ignored(c, b"\x00\x01\x02\x03\xfc\xfd\xfe\xff")


@case("6.7/2", "PING with ACK from the client: not answered")
def _(c):
    c.send(PingFrame(0, opaque_data=b"unasked!", flags=["ACK"]))
    return ignored(c, b"asked!!!")


conn_case("6.7/3", "PING on stream 1: PROTOCOL_ERROR",
          raw_frame(PING, 0, 1, b"12345678"), PROTOCOL_ERROR)
conn_case("6.7/4", "PING of length 7: FRAME_SIZE_ERROR",
          raw_frame(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR)
conn_case("6.7/5", "PING of length 9: FRAME_SIZE_ERROR",
          raw_frame(PING, 0, 0, b"123456789"), FRAME_SIZE_ERROR)


# 6.8  GOAWAY

conn_case("6.8/1", "GOAWAY on stream 1: PROTOCOL_ERROR",
          raw_frame(GOAWAY, 0, 1, b"\x00\x00\x00\x00\x00\x00\x00\x00"), PROTOCOL_ERROR)
conn_case("6.8/2", "GOAWAY of length 4: FRAME_SIZE_ERROR",
          raw_frame(GOAWAY, 0, 0, b"\x00\x00\x00\x00"), FRAME_SIZE_ERROR)


@case("6.8/3", "a request, then GOAWAY NO_ERROR: the request is still answered")
def _(c):
    sid = simple_request(c)
    c.send(goaway(NO_ERROR, last=0))
    return answered(c, sid)


# 6.9  WINDOW_UPDATE

conn_case("6.9/1", "WINDOW_UPDATE of 0 on the connection: PROTOCOL_ERROR",
          raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR)


@case("6.9/2", "WINDOW_UPDATE of 0 on a stream: PROTOCOL_ERROR")
def _(c):
    sid = post_open(c)
    c.send(raw_frame(WINDOW_UPDATE, 0, sid, b"\x00\x00\x00\x00"))
    return stream_error(c, sid, PROTOCOL_ERROR)


conn_case("6.9/3", "WINDOW_UPDATE of length 3: FRAME_SIZE_ERROR",
          raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"), FRAME_SIZE_ERROR)


@case("6.9/4", "WINDOW_UPDATE with the reserved bit set: ignored")
def _(c):
    c.send(raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x80000000 | 100)))
    return ignored(c)


@case("6.9.1/1", "connection window above 2^31-1: FLOW_CONTROL_ERROR")
def _(c):
    c.send(WindowUpdateFrame(0, window_increment=MAX_WINDOW),
           WindowUpdateFrame(0, window_increment=MAX_WINDOW))
    return conn_error(c, FLOW_CONTROL_ERROR)


@case("6.9.1/2", "stream window above 2^31-1: FLOW_CONTROL_ERROR")
def _(c):
    sid = post_open(c)
    c.send(WindowUpdateFrame(sid, window_increment=MAX_WINDOW),
           WindowUpdateFrame(sid, window_increment=MAX_WINDOW))
    return stream_error(c, sid, FLOW_CONTROL_ERROR)


@case("6.9.2/1", "SETTINGS_INITIAL_WINDOW_SIZE 0: no DATA until a WINDOW_UPDATE",
      settings={S_INITIAL_WINDOW_SIZE: 0})
def _(c):
    c.auto_window = False
    sid = simple_request(c)
    early = read_until(c, lambda f: (False, "closed") if f is None else
                       (True, "DATA in a zero window") if f.type == DATA and f.data else None,
                       timeout=0.5)
    if early[0]:
        return False, early[1]
    c.send(WindowUpdateFrame(sid, window_increment=65535))
    return read_until(c, lambda f: (False, "closed") if f is None else
                      (sid in c.responses, "DATA after the WINDOW_UPDATE")
                      if f.type == DATA and f.stream_id == sid and f.data else None)


@case("6.9.2/2", "SETTINGS_INITIAL_WINDOW_SIZE making an open stream's window overflow: "
      "FLOW_CONTROL_ERROR (connection, or on the stream as nghttp2 does)")
def _(c):
    sid = post_open(c)
    c.send(WindowUpdateFrame(sid, window_increment=MAX_WINDOW - 65535),
           SettingsFrame(0, settings={S_INITIAL_WINDOW_SIZE: 65536}))
    # RFC 9113 6.9.2 says connection error; nghttp2 resets the stream, which
    # ends the overflowing window just as well.
    return stream_error(c, sid, FLOW_CONTROL_ERROR)


# 6.10  CONTINUATION

@case("6.10/1", "HEADERS and two CONTINUATIONs: answered")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:5]),
           raw_frame(CONTINUATION, 0, sid, block[5:10]),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, block[10:]))
    return answered(c, sid)


@case("6.10/2", "CONTINUATION without END_HEADERS, then DATA: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request(method="POST"))
    c.send(raw_frame(HEADERS, 0, sid, block[:5]), raw_frame(CONTINUATION, 0, sid, block[5:]),
           DataFrame(sid, data=b"x", flags=["END_STREAM"]))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.10/3", "CONTINUATION on stream 0: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:5]),
           raw_frame(CONTINUATION, F_END_HEADERS, 0, block[5:]))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.10/4", "CONTINUATION after a HEADERS that had END_HEADERS: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    c.send(c.headers(sid, c.request(method="POST"), end_stream=False),
           raw_frame(CONTINUATION, F_END_HEADERS, sid, c.enc.encode([("x-a", "b")])))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.10/5", "CONTINUATION on another stream than its HEADERS: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:5]),
           raw_frame(CONTINUATION, F_END_HEADERS, sid + 2, block[5:]))
    return conn_error(c, PROTOCOL_ERROR)


@case("6.10/6", "HEADERS of another stream inside a header block: PROTOCOL_ERROR")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request())
    c.send(raw_frame(HEADERS, F_END_STREAM, sid, block[:5]),
           c.headers(sid + 2, c.request()))
    return conn_error(c, PROTOCOL_ERROR)


# 7  Error codes

@case("7/1", "GOAWAY with an unknown error code: not an error of ours")
def _(c):
    c.send(goaway(0xff))
    ok, why = ignored(c)
    return (True, why) if ok or why == "connection closed" else (ok, why)


@case("7/2", "RST_STREAM with an unknown error code: ignored")
def _(c):
    sid = post_open(c)
    c.send(RstStreamFrame(sid, error_code=0xff))
    return ignored(c)


@case("8.4/1", "PUSH_PROMISE from the client: PROTOCOL_ERROR")
def _(c):
    sid = post_open(c)
    block = c.enc.encode(c.request())
    c.send(raw_frame(PUSH_PROMISE, F_END_HEADERS, sid, struct.pack(">I", 2) + block))
    return conn_error(c, PROTOCOL_ERROR)


# 8.1  HTTP message framing

@case("8.1/1", "trailers without END_STREAM: PROTOCOL_ERROR")
def _(c):
    sid = post_open(c)
    c.send(DataFrame(sid, data=b"body"), c.headers(sid, [("x-trailer", "t")], end_stream=False))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("8.1/2", "request with trailers: answered")
def _(c):
    sid = post_open(c, extra=[("te", "trailers")])
    c.send(DataFrame(sid, data=b"body"), c.headers(sid, [("x-trailer", "t")]))
    return answered(c, sid)


@case("8.1/3", "trailers with a pseudo-header field: malformed", late=True)
def _(c):
    sid = post_open(c)
    c.send(DataFrame(sid, data=b"body"), c.headers(sid, [(":path", "/x"), ("x-trailer", "t")]))
    return malformed(c, sid)


def body_case(cid, what, length, chunks, verdict):
    """Registers a case: a POST with content-length LENGTH whose body is
    CHUNKS, one DATA frame each, the last one ending the stream."""
    def fn(c):
        sid = post_open(c, extra=[("content-length", length)])
        c.send(*[DataFrame(sid, data=d, flags=["END_STREAM"] if i == len(chunks) - 1 else [])
                 for i, d in enumerate(chunks)])
        return verdict(c, sid)
    case(cid, what, late=verdict is malformed)(fn)


body_case("8.1.1/1", "content-length 1 with 4 bytes of DATA: malformed", "1", [b"four"], malformed)
body_case("8.1.1/2", "content-length 10 with 4 bytes of DATA in two frames: malformed", "10",
          [b"fo", b"ur"], malformed)
body_case("8.1.1/3", "content-length 0 then DATA: malformed", "0", [b"x"], malformed)
body_case("8.1.1/4", "POST with a matching content-length: answered", "4", [b"fo", b"ur"],
          answered)
body_case("8.1.1/8", "content-length 0, then an empty DATA ending the stream: answered", "0",
          [b""], answered)


@case("8.1.1/9", "content-length 4, its 4 bytes, a pause, then more DATA: malformed", late=True)
def _(c):
    sid = post_open(c, extra=[("content-length", "4")])
    c.send(DataFrame(sid, data=b"four"))
    # time for a server that streams bodies to forward these, and for the
    # upstream to answer if they made its body whole
    time.sleep(0.5)
    c.send(DataFrame(sid, data=b"x", flags=["END_STREAM"]))
    return malformed(c, sid)


# 8.2  HTTP fields

bad_request("8.2/1", "uppercase field name: malformed", extra=[("X-Upper", "a")])
bad_request("8.2/2", "field name with a space: malformed", extra=[("x bad", "a")])
bad_request("8.2/3", "field name with a colon inside: malformed", extra=[("x:bad", "a")])
bad_request("8.2/4", "empty field name: malformed", extra=[("", "a")])
bad_request("8.2.1/1", "field value with LF: malformed", extra=[("x-v", "a\nb")])
bad_request("8.2.1/2", "field value with CR: malformed", extra=[("x-v", "a\rb")])
bad_request("8.2.1/3", "field value with NUL: malformed", extra=[("x-v", "a\x00b")])
bad_request("8.2.1/4", "field value starting with a space: malformed", extra=[("x-v", " a")])
bad_request("8.2.1/5", "field value ending with a tab: malformed", extra=[("x-v", "a\t")])
bad_request("8.2.2/1", "connection field: malformed", extra=[("connection", "keep-alive")])
bad_request("8.2.2/2", "keep-alive field: malformed", extra=[("keep-alive", "timeout=5")])
bad_request("8.2.2/3", "proxy-connection field: malformed", extra=[("proxy-connection", "keep-alive")])
bad_request("8.2.2/4", "transfer-encoding field: malformed", extra=[("transfer-encoding", "chunked")])
bad_request("8.2.2/5", "upgrade field: malformed", extra=[("upgrade", "websocket")])
bad_request("8.2.2/6", "te other than trailers: malformed", extra=[("te", "gzip")])


@case("8.2.2/7", "te: trailers: answered")
def _(c):
    return answered(c, simple_request(c, extra=[("te", "trailers")]))


# 8.3  HTTP control data (pseudo-header fields)

def pseudo_without(name):
    return lambda c: [(k, v) for k, v in c.request()[:4] if k != name]


def pseudo_plus(*fields, first=False):
    return lambda c: (list(fields) if first else []) + c.request()[:4] + \
        ([] if first else list(fields))


bad_request("8.3/1", "unknown pseudo-header field :foo: malformed", pseudo=pseudo_plus((":foo", "x")))
bad_request("8.3/2", "response pseudo-header :status in a request: malformed",
            pseudo=pseudo_plus((":status", "200")))
bad_request("8.3/3", "pseudo-header field after a regular field: malformed",
            pseudo=lambda c: [("x-first", "a")] + c.request()[:4])
bad_request("8.3.1/1", "no :method: malformed", pseudo=pseudo_without(":method"))
bad_request("8.3.1/2", "no :scheme: malformed", pseudo=pseudo_without(":scheme"))
bad_request("8.3.1/3", "no :path: malformed", pseudo=pseudo_without(":path"))
bad_request("8.3.1/4", "empty :path: malformed",
            pseudo=lambda c: c.request(path="")[:4])
bad_request("8.3.1/5", ":path not starting with /: malformed",
            pseudo=lambda c: c.request(path="relative?h2conform=" + c.case_id)[:4])
bad_request("8.3.1/6", "two :method fields: malformed", pseudo=pseudo_plus((":method", "GET")))
bad_request("8.3.1/7", "two :scheme fields: malformed", pseudo=pseudo_plus((":scheme", "https")))
bad_request("8.3.1/8", "two :path fields: malformed", pseudo=pseudo_plus((":path", "/")))
bad_request("8.3.1/9", "two :authority fields: malformed",
            pseudo=lambda c: c.request()[:4] + [(":authority", c.opts.sni)])
bad_request("8.5/1", "CONNECT with :scheme and :path: malformed",
            pseudo=lambda c: [(":method", "CONNECT")] + c.request()[1:4])
bad_request("8.5/2", "CONNECT without :authority: malformed",
            pseudo=lambda c: [(":method", "CONNECT")])



# What a proxy writes into an HTTP/1.1 request line and Host field: values
# that would change that request's meaning there (a space splits the
# request line; userinfo is not an authority's) must not be forwarded.
def pseudo_with(**kv):
    """The usual pseudo-header fields with some values replaced."""
    def make(c):
        f = dict(c.request()[:4])
        f.update({":" + k: v(c) if callable(v) else v for k, v in kv.items()})
        return list(f.items())
    return make


bad_request("8.3.1/12", ":path with a space: malformed",
            pseudo=pseudo_with(path=lambda c: c.request()[3][1] + " HTTP/1.1"))
bad_request("8.3.1/13", ":method with a space: malformed",
            pseudo=pseudo_with(method="GET /smuggled"))
bad_request("8.3.1/14", "empty :method: malformed", pseudo=pseudo_with(method=""))
bad_request("8.3.1/15", ":authority with userinfo: malformed",
            pseudo=pseudo_with(authority=lambda c: "user@" + c.opts.sni))
bad_request("8.3.1/16", ":authority with a space: malformed",
            pseudo=pseudo_with(authority=lambda c: c.opts.sni + " x"))
bad_request("8.3.1/17", ":path * for a GET: malformed", pseudo=pseudo_with(path="*"))
bad_request("8.1.1/5", "two different content-length fields: malformed",
            extra=[("content-length", "0"), ("content-length", "1")])
bad_request("8.1.1/6", "content-length that is not a number: malformed",
            extra=[("content-length", "1x")])
bad_request("8.1.1/7", "content-length 5 and no DATA: malformed",
            extra=[("content-length", "5")])

@case("8.3.1/10", "HEAD request: answered without DATA")
def _(c):
    sid = c.sid()
    c.send(c.headers(sid, c.request(method="HEAD")))
    ok, why = answered(c, sid)
    if not ok:
        return ok, why
    data = [e for e in c.events if e.startswith("DATA(%d)" % sid) and not e.endswith(" 0")]
    return not data, why + (", with DATA" if data else "")


@case("8.3.1/11", "cookie split in several fields: answered")
def _(c):
    return answered(c, simple_request(c, extra=[("cookie", "a=1"), ("cookie", "b=2")]))


# RFC 7541  HPACK

def hpack_case(cid, what, bad, at_end=False):
    """Registers a case: a request whose header block has BAD bytes at its
    start (or end): a decoding error, COMPRESSION_ERROR."""
    def fn(c):
        sid = c.sid()
        block = c.enc.encode(c.request())
        block = block + bad if at_end else bad + block
        c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS, sid, block))
        return conn_error(c, COMPRESSION_ERROR)
    case(cid, what)(fn)


hpack_case("hpack/2.3.3-1", "indexed field beyond the tables (70): COMPRESSION_ERROR",
           hpack_int(70, 7, 0x80))
hpack_case("hpack/2.3.3-2", "literal whose name index is beyond the tables: COMPRESSION_ERROR",
           hpack_int(70, 6, 0x40) + b"\x01x")
hpack_case("hpack/6.1-1", "indexed field with index 0: COMPRESSION_ERROR", b"\x80")
hpack_case("hpack/4.2-1", "dynamic table size update above SETTINGS_HEADER_TABLE_SIZE: "
           "COMPRESSION_ERROR", hpack_int(1 << 20, 5, 0x20))
hpack_case("hpack/4.2-2", "dynamic table size update after a field: COMPRESSION_ERROR",
           hpack_int(0, 5, 0x20), at_end=True)
hpack_case("hpack/5.1-1", "integer beyond 2^32 in an index: COMPRESSION_ERROR",
           b"\xff" + b"\xff" * 8 + b"\x7f")
hpack_case("hpack/5.2-1", "Huffman string with padding longer than 7 bits: COMPRESSION_ERROR",
           hpack_literal(b"x-test", b"\x1f\xff", value_huffman=True))
hpack_case("hpack/5.2-2", "Huffman string padded with zeros, not EOS: COMPRESSION_ERROR",
           hpack_literal(b"x-test", b"\x18", value_huffman=True))
hpack_case("hpack/5.2-3", "Huffman string containing EOS: COMPRESSION_ERROR",
           hpack_literal(b"x-test", b"\xff\xff\xff\xff", value_huffman=True))
hpack_case("hpack/5.2-4", "string length beyond the header block: COMPRESSION_ERROR",
           b"\x00\x06x-test" + hpack_int(200, 7) + b"abc", at_end=True)


@case("hpack/4.2-3", "dynamic table size update to 0 at the block's start: answered")
def _(c):
    c.enc.header_table_size = 0     # the encoder emits the update first
    return answered(c, simple_request(c))


@case("hpack/6.2-1", "dynamic table entries reused by a second request: both answered")
def _(c):
    first = simple_request(c, extra=[("x-indexed", "same value")])
    ok, why = answered(c, first)
    if not ok:
        return ok, "first: " + why
    return answered(c, simple_request(c, extra=[("x-indexed", "same value")]))


@case("hpack/6.2.3-1", "never-indexed literal: answered")
def _(c):
    sid = c.sid()
    block = c.enc.encode(c.request()) + \
        b"\x10" + hpack_int(8, 7) + b"x-secret" + hpack_int(3, 7) + b"abc"
    c.send(raw_frame(HEADERS, F_END_STREAM | F_END_HEADERS, sid, block))
    return answered(c, sid)


# Limits the server announces

@case("limits/1", "header list above SETTINGS_MAX_HEADER_LIST_SIZE: refused, not forwarded")
def _(c):
    limit = c.server_settings.get(S_MAX_HEADER_LIST_SIZE)
    if limit is None:
        return None, "server announced no SETTINGS_MAX_HEADER_LIST_SIZE"
    sid = c.sid()
    extra = [("x-big-%d" % i, "v" * 4000) for i in range(limit // 4000 + 2)]
    block = c.enc.encode(c.request(extra=extra))
    frames = [raw_frame(HEADERS, F_END_STREAM, sid, block[:16384])]
    rest = block[16384:]
    while rest:
        chunk, rest = rest[:16384], rest[16384:]
        frames.append(raw_frame(CONTINUATION, 0 if rest else F_END_HEADERS, sid, chunk))
    c.send(*frames)

    def stop(f):
        if f is None:
            return True, "connection closed"
        if f.type == GOAWAY or f.type == RST_STREAM and f.stream_id == sid:
            return True, c.events[-1]
        if sid in c.responses:
            st = dict(c.responses[sid]).get(":status", "?")
            return st == "431" or st == "400", "answered %s" % st
        return None
    return read_until(c, stop)


# --- running -----------------------------------------------------------------

def run_case(opts, k):
    try:
        c = Conn(opts)
    except NotH2:
        raise
    except (OSError, ssl.SSLError) as e:
        return False, "connect: %s" % e
    try:
        c.case_id = k["id"]
        if k["handshake"]:
            c.handshake(k["settings"])
        return k["fn"](c)
    except Closed as e:
        return False, "connection closed while sending (%s)" % e
    except Exception as e:      # a case's own bug, or a frame we cannot parse
        return False, "%s: %s" % (type(e).__name__, e)
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=False)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--sni")
    ap.add_argument("--ca")
    ap.add_argument("--path", default="/")
    ap.add_argument("--json", action="store_true", help="one JSON object per case")
    ap.add_argument("--case", default="", help="run the cases whose id contains this")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    opts = ap.parse_args()
    cases = [k for k in CASES if opts.case in k["id"]]
    if opts.list:
        for k in cases:
            print("%-16s %s" % (k["id"], k["what"]))
        return 0
    if not (opts.host and opts.sni and opts.ca):
        ap.error("--host, --sni and --ca are required")
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for k in cases:
        try:
            ok, why = run_case(opts, k)
        except NotH2 as e:
            print("h2conform: %s:%d does not speak h2: %s" % (opts.host, opts.port, e),
                  file=sys.stderr)
            return 3
        verdict = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        counts[verdict] += 1
        if opts.json:
            print(json.dumps({"id": k["id"], "what": k["what"], "result": verdict,
                              "detail": why, "late": k["late"]}))
        else:
            print("%s %-16s %s: %s" % (verdict, k["id"], k["what"], why))
        sys.stdout.flush()
    summary = "%d cases: %d passed, %d failed, %d skipped" % (
        len(cases), counts["PASS"], counts["FAIL"], counts["SKIP"])
    if opts.json:
        print(json.dumps({"summary": summary, **{k.lower(): v for k, v in counts.items()}}))
    else:
        print(summary)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
