#!/usr/bin/env python3
"""hello.py - TLS clients that send their ClientHello in pieces.

  hello.py split HOST SNI CAFILE DELAY   half the ClientHello, DELAY seconds
                                         of silence, the rest; then the
                                         handshake and GET /echo?split=1;
                                         prints the response's status code
  hello.py stall HOST SNI WAIT           half the ClientHello and nothing
                                         more; prints "closed" if the server
                                         closes within WAIT seconds, else "open"
  hello.py hold HOST SNI N               N connections that each sent half a
                                         ClientHello; prints "ready", then
                                         holds them until killed

All connect to HOST port 443.
"""
import resource
import select
import socket
import ssl
import sys
import time


def hello_for(sni, cafile=None):
    """An SSLObject mid-handshake, its outgoing BIO, and its ClientHello."""
    ctx = ssl.create_default_context(cafile=cafile)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return obj, inc, out, out.read()


def pump(s, obj, inc, out, step):
    """Run step() on obj until it stops wanting to read; moves the bytes."""
    while True:
        try:
            r = step()
            s.sendall(out.read())
            return r
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            b = s.recv(65536)
            if b:
                inc.write(b)
            else:
                inc.write_eof()


def split(host, sni, cafile, delay):
    obj, inc, out, hello = hello_for(sni, cafile)
    s = socket.create_connection((host, 443), timeout=20)
    s.sendall(hello[:len(hello) // 2])
    time.sleep(delay)
    s.sendall(hello[len(hello) // 2:])
    pump(s, obj, inc, out, obj.do_handshake)
    obj.write(b"GET /echo?split=1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni.encode())
    s.sendall(out.read())
    data = b""
    while b"\r\n" not in data:
        try:
            data += pump(s, obj, inc, out, lambda: obj.read(65536))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "none")


def stall(host, sni, wait):
    _, _, _, hello = hello_for(sni)
    s = socket.create_connection((host, 443), timeout=20)
    s.sendall(hello[:len(hello) // 2])
    r, _, _ = select.select([s], [], [], wait)
    closed = False
    if r:
        try:
            closed = s.recv(1) == b""
        except ConnectionError:
            closed = True
    print("closed" if closed else "open")


def hold(host, sni, n):
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
    _, _, _, hello = hello_for(sni)
    conns = []
    for _ in range(n):
        s = socket.create_connection((host, 443), timeout=20)
        s.sendall(hello[:len(hello) // 2])
        conns.append(s)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def main():
    cmd, host, sni = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "split":
        split(host, sni, sys.argv[4], float(sys.argv[5]))
    elif cmd == "stall":
        stall(host, sni, float(sys.argv[4]))
    elif cmd == "hold":
        hold(host, sni, int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
