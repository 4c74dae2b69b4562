#!/usr/bin/env python3
"""dns.py - the smallest authoritative DNS server the lab needs (UDP).

  dns.py --listen ADDR [--port PORT] [--ttl SECONDS] [--name NAME=ADDR]...
         [--cname NAME=TARGET]...

Answers A and AAAA from the --name table (NOERROR with no answer when the
name has no address of that family), with TTL SECONDS (60); a --cname name
is answered with its CNAME record, then the target's addresses, NXDOMAIN for any other name, SERVFAIL
for names under servfail.test, and never answers names under timeout.test.
Each query is logged to stderr as "qname qtype -> outcome".
"""
import argparse
import ipaddress
import socket
import struct
import sys

QTYPE_A, QTYPE_AAAA = 1, 28


def parse_question(msg):
    labels, i = [], 12
    while True:
        n = msg[i]
        i += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[i:i + n].decode("ascii", "replace").lower())
        i += n
    qtype, qclass = struct.unpack("!HH", msg[i:i + 4])
    return ".".join(labels), qtype, qclass, i + 4


def under(name, zone):
    return name == zone or name.endswith("." + zone)


def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.split(".")) + b"\0"


def answer(msg, table, cnames, ttl):
    qid, flags = struct.unpack("!HH", msg[:4])
    name, qtype, qclass, qend = parse_question(msg)
    question = msg[12:qend]
    if under(name, "timeout.test"):
        return None, name, qtype, "dropped"
    rcode, rrs = 0, []
    if under(name, "servfail.test"):
        rcode = 2
    elif name not in table and name not in cnames:
        rcode = 3
    else:
        owner = b"\xc0\x0c"
        if name in cnames:
            target = encode_name(cnames[name])
            rrs.append(owner + struct.pack("!HHIH", 5, 1, ttl, len(target)) + target)
            owner, name = target, cnames[name]
        for a in table.get(name, []):
            if (qtype == QTYPE_A and a.version == 4) or (qtype == QTYPE_AAAA and a.version == 6):
                rrs.append(owner + struct.pack("!HHIH", qtype, 1, ttl, len(a.packed)) + a.packed)
    # QR, AA, RD copied, RA; rcode.
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    head = struct.pack("!HHHHHH", qid, rflags, 1, len(rrs), 0, 0)
    outcome = {0: "%d answers" % len(rrs), 2: "SERVFAIL", 3: "NXDOMAIN"}[rcode]
    return head + question + b"".join(rrs), name, qtype, outcome


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--cname", action="append", default=[])
    ap.add_argument("--ttl", type=int, default=60)
    args = ap.parse_args()
    cnames = dict(spec.lower().split("=", 1) for spec in args.cname)
    table = {}
    for spec in args.name:
        n, _, a = spec.partition("=")
        table.setdefault(n.lower(), []).append(ipaddress.ip_address(a))
    addr = ipaddress.ip_address(args.listen)
    s = socket.socket(socket.AF_INET6 if addr.version == 6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((str(addr), args.port))
    print("dns: listening on %s" % args.listen, file=sys.stderr, flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            out, name, qtype, outcome = answer(msg, table, cnames, args.ttl)
        except (ValueError, IndexError, struct.error) as e:
            print("dns: bad query from %s: %s" % (peer, e), file=sys.stderr, flush=True)
            continue
        print("dns: %s %d -> %s" % (name, qtype, outcome), file=sys.stderr, flush=True)
        if out is not None:
            s.sendto(out, peer)


if __name__ == "__main__":
    main()
