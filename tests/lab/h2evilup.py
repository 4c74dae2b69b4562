#!/usr/bin/env python3
"""h2evilup.py - an HTTP/2-only upstream whose responses are malformed.

    h2evilup.py --cert FILE --key FILE --listen ADDR:PORT

Serves TLS with ALPN h2 only and answers every request by its path's last
segment, a name from RESPONSES below: a response head that RFC 9113 8
calls malformed, most of them written so that a proxy copying the fields
into an HTTP/1.1 response would let the upstream add a field of its own
(x-injected) or split the response.  python3-h2 is told not to check or
normalise what it sends.  Any other name gets a well-formed 200 "ok", so a
test can show that the connection still serves.
"""

import argparse
import socket
import ssl
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions

SPLIT = "HTTP/1.1 200 OK\r\nx-injected: yes\r\ncontent-length: 0\r\n\r\n"

RESPONSES = {
    "crlf-value": [(":status", "200"), ("x-a", "1\r\nx-injected: yes")],
    "lf-value": [(":status", "200"), ("x-a", "1\nx-injected: yes")],
    "nul-value": [(":status", "200"), ("x-a", "1\x00x-injected: yes")],
    "crlf-name": [(":status", "200"), ("x-a\r\nx-injected", "yes")],
    "colon-name": [(":status", "200"), ("x-injected:yes\r\nx-b", "1")],
    "space-name": [(":status", "200"), ("x-injected yes", "1")],
    "upper-name": [(":status", "200"), ("X-Injected", "yes")],
    "status-text": [(":status", "200 OK\r\nx-injected: yes")],
    "status-missing": [("x-injected", "yes")],
    "status-twice": [(":status", "200"), (":status", "204"), ("x-injected", "yes")],
    "pseudo-after": [("x-a", "1"), (":status", "200"), ("x-injected", "yes")],
    "unknown-pseudo": [(":status", "200"), (":x-injected", "yes")],
    "conn-field": [(":status", "200"), ("connection", "x-injected"), ("x-injected", "yes")],
    "te-chunked": [(":status", "200"), ("transfer-encoding", "chunked")],
}


def serve(sock):
    config = h2.config.H2Configuration(client_side=False, validate_outbound_headers=False,
                                       normalize_outbound_headers=False,
                                       validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                path = dict((k.decode() if isinstance(k, bytes) else k,
                             v.decode() if isinstance(v, bytes) else v) for k, v in ev.headers)[":path"]
                name = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
                if name in RESPONSES:
                    body = SPLIT.encode() if name == "te-chunked" else b"evil"
                    conn.send_headers(ev.stream_id, RESPONSES[name])
                else:
                    body = b"ok"
                    conn.send_headers(ev.stream_id, [(":status", "200"),
                                                     ("content-length", str(len(body)))])
                conn.send_data(ev.stream_id, body, end_stream=True)
        sock.sendall(conn.data_to_send())


def handle(raw, ctx):
    try:
        with ctx.wrap_socket(raw, server_side=True) as sock:
            serve(sock)
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--listen", required=True)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["h2"])
    srv = socket.create_server((host, int(port)))
    while True:
        raw, _ = srv.accept()
        threading.Thread(target=handle, args=(raw, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
