#!/usr/bin/env python3
"""wsecho.py - a WebSocket echo origin over TLS (standard library only).

    wsecho.py --cert CRT --key KEY --listen ADDR:PORT --log FILE

Answers an HTTP/1.1 request head by its path:
  /ws...            with Upgrade: websocket, Sec-WebSocket-Version: 13 and a
                    Sec-WebSocket-Key: a 101 with the RFC 6455
                    Sec-WebSocket-Accept (and the first subprotocol the
                    client offered, if any), then echoes every text and
                    binary message, answers pings, and on a close frame
                    sends one back and closes (close_notify, then FIN)
  /ws/bad-accept    the same 101 with a wrong Sec-WebSocket-Accept
  /ws/flood/N       the same 101, then N MiB in binary messages of 64 KiB
                    as fast as the peer takes them, then the echo
  /ws/refuse        403 with a JSON body, no upgrade
  anything else     400 with a JSON body, no upgrade

Logs one JSON object per line to FILE:
  {"event": "request", "conn": N, "method", "path", "headers": [[k, v]...]}
  {"event": "flood", "conn": N, "sent": B}   bytes of /ws/flood/N sent
  {"event": "close", "conn": N, "messages": M, "in": B, "out": B}
        M messages echoed; B the bytes after the head each way (frames)

The frame helpers are wsclient.py's too; the listener is rawup.py's.
"""

import base64
import hashlib
import itertools
import json
import os
import ssl
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawup  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10

_ids = itertools.count(1)


def accept_for(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def frame(op, payload, mask):
    """One final frame; a client masks it (RFC 6455 5.3), a server not."""
    n = len(payload)
    head = bytes([0x80 | op])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse_frame(buf):
    """(opcode, payload, frame length), or None until buf holds a frame."""
    if len(buf) < 2:
        return None
    op, n, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    key = None
    if buf[1] & 0x80:
        key, pos = buf[pos:pos + 4], pos + 4
    if len(buf) < pos + n:
        return None
    payload = buf[pos:pos + n]
    if key is not None:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return op, payload, pos + n


def read_head(s):
    """(method, path, headers, rest) of the request head, or None at EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            return None
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = [[k.strip(), v.strip()] for k, _, v in
               (l.partition(":") for l in lines[1:])]
    return method, path, headers, rest


def field(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def answer(s, status, why):
    body = json.dumps({"error": why}).encode()
    s.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" %
              (status, b"Forbidden" if status == 403 else b"Bad Request",
               len(body), body))


def echo(s, buf, log, conn):
    """Echo messages until a close frame or EOF; logs the totals."""
    n_in, n_out, msgs = len(buf), 0, 0
    while True:
        f = parse_frame(buf)
        if f is None:
            b = s.recv(65536)
            if not b:
                break
            n_in += len(b)
            buf += b
            continue
        op, payload, used = f
        buf = buf[used:]
        reply = None
        if op in (OP_TEXT, OP_BINARY):
            reply, msgs = frame(op, payload, False), msgs + 1
        elif op == OP_PING:
            reply = frame(OP_PONG, payload, False)
        elif op == OP_CLOSE:
            reply = frame(OP_CLOSE, payload[:2], False)
        if reply is not None:
            s.sendall(reply)
            n_out += len(reply)
        if op == OP_CLOSE:
            break
    log.write(event="close", conn=conn, messages=msgs, **{"in": n_in, "out": n_out})


def serve(s, log):
    """One connection: its request, a WebSocket or an answer, then the
    close (close_notify, then FIN)."""
    try:
        handshake(s, log, next(_ids))
        s = s.unwrap()
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        s.close()


def handshake(s, log, conn):
    req = read_head(s)
    if req is None:
        return
    method, path, headers, rest = req
    log.write(event="request", conn=conn, method=method, path=path, headers=headers)
    key = field(headers, "sec-websocket-key")
    if path.startswith("/ws/refuse"):
        return answer(s, 403, "refused by the origin")
    if (not path.startswith("/ws") or key is None or
            (field(headers, "upgrade") or "").lower() != "websocket" or
            field(headers, "sec-websocket-version") != "13"):
        return answer(s, 400, "not a WebSocket handshake")
    accept = accept_for(key)
    if path.startswith("/ws/bad-accept"):
        accept = accept_for(key + "x")
    proto = field(headers, "sec-websocket-protocol")
    extra = ""
    if proto:
        extra = "Sec-WebSocket-Protocol: %s\r\n" % proto.split(",")[0].strip()
    s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n" %
               (accept, extra)).encode())
    if path.startswith("/ws/flood/"):
        flood(s, int(path.split("/")[3]) << 20, log, conn)
    echo(s, rest, log, conn)


def flood(s, n, log, conn):
    chunk, sent = frame(OP_BINARY, b"f" * 65536, False), 0
    try:
        while sent < n:
            s.sendall(chunk)
            sent += len(chunk)
    finally:
        log.write(event="flood", conn=conn, sent=sent)


if __name__ == "__main__":
    rawup.main(serve, __doc__)
