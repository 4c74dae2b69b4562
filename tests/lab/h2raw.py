#!/usr/bin/env python3
"""h2raw.py - a raw HTTP/2 client over TLS for the lab, for what curl and
nghttp will not do on cue: reset one stream, keep a connection open to see
the server's GOAWAY.

    h2raw.py CAFILE HOST ACTION...

ACTION is get:ID:PATH (HEADERS with END_STREAM), rst:ID:CODE (RST_STREAM),
sleep:SECONDS, read:SECONDS (print the frames that come, one line each,
until the server closes or SECONDS pass: "headers ID 0xNN" with the first
byte of the head, 0x88 being HPACK's ":status: 200"; "data ID" and
"data ID end"; "rst ID CODE"; "goaway CODE"; then "eof" if it closed),
or last (GOAWAY lines from then on name the last stream id too:
"goaway CODE last ID"), or flow (SETTINGS and WINDOW_UPDATE frames are
printed from then on: "settings ID=VALUE..." with the parameters in hex,
an ACK as "settings ack"; "window ID INCREMENT").
PING frames are never printed.  No HPACK decoder:
the heads it sends are literals, the ones it reads are named by one byte.
"""
import socket
import ssl
import struct
import sys
import time

SHOW_LAST = False
SHOW_FLOW = False


def frame(kind, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) +
            struct.pack(">I", stream) + payload)


def get(host, stream, path):
    def lit(idx, v):		# literal without indexing, indexed name
        return bytes([idx, len(v)]) + v
    block = b"\x82\x87" + lit(4, path.encode()) + lit(1, host.encode())
    return frame(1, 0x5, stream, block)	# END_HEADERS | END_STREAM


def show(kind, flags, stream, payload):
    if kind == 1:
        print("headers %d 0x%02x" % (stream, payload[0]))
    elif kind == 0:
        print("data %d%s" % (stream, " end" if flags & 1 else ""))
    elif kind == 3:
        print("rst %d %d" % (stream, int.from_bytes(payload[:4], "big")))
    elif kind == 7:
        print("goaway %d" % int.from_bytes(payload[4:8], "big") +
              (" last %d" % (int.from_bytes(payload[:4], "big") & 0x7fffffff)
               if SHOW_LAST else ""))
    elif kind == 4 and SHOW_FLOW:
        print("settings " + ("ack" if flags & 1 else " ".join(
            "0x%x=%d" % struct.unpack(">HI", payload[i:i + 6])
            for i in range(0, len(payload), 6))))
    elif kind == 8 and SHOW_FLOW:
        print("window %d %d" % (stream, int.from_bytes(payload[:4], "big") & 0x7fffffff))
    sys.stdout.flush()


def read(s, secs):
    buf, deadline = b"", time.time() + secs
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            show(buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff,
                 buf[9:9 + n])
            buf = buf[9 + n:]
        left = deadline - time.time()
        if left <= 0:
            return
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            return
        if not data:
            print("eof")
            return
        buf += data


def main():
    global SHOW_LAST, SHOW_FLOW
    cafile, host = sys.argv[1], sys.argv[2]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection((host, 443), 10),
                        server_hostname=host)
    if s.selected_alpn_protocol() != "h2":
        sys.exit("ALPN chose %s, not h2" % s.selected_alpn_protocol())
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    for action in sys.argv[3:]:
        what, _, arg = action.partition(":")
        if what == "get":
            stream, _, path = arg.partition(":")
            s.sendall(get(host, int(stream), path))
        elif what == "rst":
            stream, _, code = arg.partition(":")
            s.sendall(frame(3, 0, int(stream), struct.pack(">I", int(code))))
        elif what == "sleep":
            time.sleep(float(arg))
        elif what == "read":
            read(s, float(arg))
        elif what == "last":
            SHOW_LAST = True
        elif what == "flow":
            SHOW_FLOW = True
        else:
            sys.exit("unknown action " + action)


main()
