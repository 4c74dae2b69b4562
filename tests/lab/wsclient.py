#!/usr/bin/env python3
"""wsclient.py - a WebSocket client over TLS, for wsecho.py through sluice.

    wsclient.py --ca CA --host NAME --addr IP [--h2] [--path P]...
                [--stall P]... [--header 'K: V']... [--hold SECS]
                [--no-close | --reset]
                MESSAGE...

HTTP/1.1 (default): one connection, GET --path with the RFC 6455 handshake
(a fresh Sec-WebSocket-Key, checked against Sec-WebSocket-Accept), then
each MESSAGE as a masked text frame, its echo read back; then a close frame
and its answer, and the connection closed (--no-close: closed without a
close frame; --reset: reset, TCP RST).  --hold waits SECS before closing.

--h2: HTTP/2 (python3-h2), an RFC 8441 extended CONNECT stream (:protocol
websocket) per --path, all opened at once on one connection; each that
gets :status 200 sends the MESSAGEs as DATA and reads the echoes, then a
close frame, its answer, and END_STREAM (--reset: RST_STREAM(CANCEL)
instead, the connection kept 1 s more).  A --stall PATH stream is opened
too (after the --path ones) but never read: its window is never credited.

Prints one JSON object per stream (one for HTTP/1.1): {"path", "status",
"accept_ok" (HTTP/1.1), "echoes": [...], "sent": B, "received": B,
"closed": how the other side ended, "protocol": the subprotocol the
answer chose (--h2), "body": an answer that was no tunnel};
sent and received count the bytes after the head (the frames).
"""

import argparse
import json
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsecho import OP_CLOSE, OP_TEXT, accept_for, frame, new_key, parse_frame  # noqa: E402


def tls_connect(a, alpn):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.set_alpn_protocols([alpn])
    s = socket.create_connection((a.addr, 443), timeout=20)
    return ctx.wrap_socket(s, server_hostname=a.host)


class H1:
    """One WebSocket over HTTP/1.1."""

    def __init__(self, a, path):
        self.s = tls_connect(a, "http/1.1")
        self.key = new_key()
        self.res = {"path": path, "echoes": [], "sent": 0, "received": 0}
        extra = "".join(h + "\r\n" for h in a.header)
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: %s\r\n%s\r\n" %
                        (path, a.host, self.key, extra)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise ConnectionError("EOF in the response head")
            self.buf += b
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.res["status"] = int(lines[0].split(" ")[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (l.partition(":") for l in lines[1:])}
        self.res["accept_ok"] = fields.get("sec-websocket-accept") == accept_for(self.key)
        self.res["received"] = len(self.buf)

    def send(self, data):
        self.s.sendall(data)
        self.res["sent"] += len(data)

    def frame(self):
        while True:
            f = parse_frame(self.buf)
            if f is not None:
                self.buf = self.buf[f[2]:]
                return f
            b = self.s.recv(65536)
            if not b:
                return None
            self.res["received"] += len(b)
            self.buf += b

    def finish(self, close, reset):
        if reset:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        elif close:
            self.send(frame(OP_CLOSE, b"\x03\xe8", True))
            self.frame()
            # The origin closes after its close frame.
            try:
                while self.s.recv(65536):
                    pass
                self.res["closed"] = "eof"
            except (ssl.SSLError, OSError) as e:
                self.res["closed"] = type(e).__name__
        self.s.close()


def run_h1(a):
    ws = H1(a, a.path[0])
    if ws.res["status"] == 101:
        for m in a.message:
            ws.send(frame(OP_TEXT, m.encode(), True))
            f = ws.frame()
            ws.res["echoes"].append(f[1].decode() if f else None)
        time.sleep(a.hold)
        ws.finish(not a.no_close, a.reset)
    print(json.dumps(ws.res))


def run_h2(a):
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings

    s = tls_connect(a, "h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    streams, order = {}, []

    def pump(until):
        while not until():
            data = s.recv(65536)
            if not data:
                raise ConnectionError("the connection closed")
            for ev in conn.receive_data(data):
                st = streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, h2.events.ResponseReceived):
                    hd = dict(ev.headers)
                    st["status"] = int(hd[b":status"])
                    if b"sec-websocket-protocol" in hd:
                        st["protocol"] = hd[b"sec-websocket-protocol"].decode()
                elif isinstance(ev, h2.events.DataReceived) and st["path"] in a.stall:
                    # The connection's window only: the stream's stays shut.
                    conn.increment_flow_control_window(ev.flow_controlled_length)
                    st["received"] += len(ev.data)
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    st["received"] += len(ev.data)
                    st["buf"] += ev.data
                elif isinstance(ev, h2.events.StreamEnded):
                    st.setdefault("closed", "end_stream")
                elif isinstance(ev, h2.events.StreamReset):
                    st.setdefault("closed", "reset %d" % ev.error_code)
            s.sendall(conn.data_to_send())

    pump(lambda: conn.remote_settings.enable_connect_protocol == 1)
    for path in a.path + a.stall:
        sid = conn.get_next_available_stream_id()
        hdrs = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                (":path", path), (":authority", a.host), ("sec-websocket-version", "13")]
        hdrs += [tuple(x.strip().lower() if i == 0 else x.strip()
                       for i, x in enumerate(h.split(":", 1))) for h in a.header]
        conn.send_headers(sid, hdrs)
        streams[sid] = {"path": path, "echoes": [], "sent": 0, "received": 0, "buf": b""}
        order.append(sid)
    s.sendall(conn.data_to_send())
    pump(lambda: all("status" in streams[i] or "closed" in streams[i] for i in order))

    def next_frame(st):
        f = None
        pump(lambda: "closed" in st or parse_frame(st["buf"]) is not None)
        f = parse_frame(st["buf"])
        if f is not None:
            st["buf"] = st["buf"][f[2]:]
        return f

    def send(sid, data):
        conn.send_data(sid, data)
        streams[sid]["sent"] += len(data)
        s.sendall(conn.data_to_send())

    for sid in order:
        st = streams[sid]
        if st["path"] in a.stall:
            continue
        if st.get("status") != 200:
            pump(lambda: "closed" in st)
            st["body"] = st.pop("buf").decode("latin-1")
            continue
        for m in a.message:
            send(sid, frame(OP_TEXT, m.encode(), True))
            f = next_frame(st)
            st["echoes"].append(f[1].decode() if f else None)
        time.sleep(a.hold)
        if a.reset:
            conn.reset_stream(sid, 8)   # CANCEL
            s.sendall(conn.data_to_send())
            st["closed"] = "reset by us"
            time.sleep(1)
        elif not a.no_close:
            send(sid, frame(OP_CLOSE, b"\x03\xe8", True))
            next_frame(st)
            try:
                conn.end_stream(sid)
            except h2.exceptions.StreamClosedError:
                pass    # the origin closed first: sluice reset our side
            s.sendall(conn.data_to_send())
            pump(lambda: "closed" in st)
    for sid in order:
        streams[sid].pop("buf", None)
        print(json.dumps(streams[sid]))
    s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ca", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--h2", action="store_true")
    ap.add_argument("--path", action="append")
    ap.add_argument("--stall", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--no-close", action="store_true")
    ap.add_argument("--reset", action="store_true")
    ap.add_argument("message", nargs="*")
    a = ap.parse_args()
    a.path = a.path or ["/ws"]
    (run_h2 if a.h2 else run_h1)(a)


if __name__ == "__main__":
    main()
