#!/usr/bin/env python3
"""grpc_client.py - one gRPC call from the lab's client (python3-grpcio).

    grpc_client.py --target HOST:PORT --ca FILE [--metadata KEY=VALUE]...
                   METHOD [MESSAGE...]

METHOD is a path such as /test.Echo/Unary.  /test.Echo/Bidi is called as a
bidirectional stream that sends every MESSAGE (each only after the answer
to the previous one came, so the two directions interleave); any other
method is called unary with the first MESSAGE (default empty).  Messages
are sent as their UTF-8 bytes.

Prints, one per line: "status NAME" (the grpc.StatusCode name as the client
sees it, e.g. OK or PERMISSION_DENIED), "details TEXT" when there are
details, "reply TEXT" for every answer in order, and "trailer KEY=VALUE"
for the trailing metadata the client received (grpc-status is consumed by
grpcio itself: its value is the status line).  Exits 0 whenever the call
ended, whatever its status; 2 on bad usage.

The host name is resolved with the system resolver (so /etc/hosts in the
client's namespace applies) and no proxy environment variable is used:
the lab intercepts the connection transparently.
"""

import argparse
import os
import queue
import sys

os.environ["GRPC_DNS_RESOLVER"] = "native"
for var in ("http_proxy", "https_proxy", "grpc_proxy", "HTTP_PROXY",
            "HTTPS_PROXY", "no_grpc_proxy", "no_proxy"):
    os.environ.pop(var, None)

import grpc  # noqa: E402  (after the environment it reads at import)

BIDI = "/test.Echo/Bidi"
TIMEOUT = 20


def bidi(channel, method, messages, metadata):
    """Sends each message after the previous answer; returns the call."""
    outbox = queue.Queue()

    def requests():
        while True:
            m = outbox.get()
            if m is None:
                return
            yield m

    call = channel.stream_stream(method)(requests(), metadata=metadata,
                                         timeout=TIMEOUT)
    replies = []
    try:
        for m in messages:
            outbox.put(m)
            replies.append(next(call))
        outbox.put(None)
        replies.extend(call)
    except (StopIteration, grpc.RpcError):
        outbox.put(None)
    return call, replies


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--ca", required=True, help="CA certificate to trust")
    ap.add_argument("--metadata", action="append", default=[],
                    help="KEY=VALUE, sent with the call")
    ap.add_argument("method")
    ap.add_argument("messages", nargs="*")
    args = ap.parse_args()
    try:
        metadata = [tuple(kv.split("=", 1)) for kv in args.metadata]
        if any(len(kv) != 2 for kv in metadata):
            raise ValueError
    except ValueError:
        ap.error("--metadata wants KEY=VALUE")
    messages = [m.encode() for m in args.messages]

    with open(args.ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    with grpc.secure_channel(args.target, creds,
                             options=[("grpc.enable_http_proxy", 0)]) as ch:
        if args.method == BIDI:
            call, replies = bidi(ch, args.method, messages, metadata)
        else:
            try:
                reply, call = ch.unary_unary(args.method).with_call(
                    messages[0] if messages else b"", metadata=metadata,
                    timeout=TIMEOUT)
                replies = [reply]
            except grpc.RpcError as e:
                call, replies = e, []
        print("status", call.code().name)
        if call.details():
            print("details", call.details())
        for r in replies:
            print("reply", r.decode("utf-8", "replace"))
        for k, v in call.trailing_metadata() or ():
            print("trailer %s=%s" % (k, v))


if __name__ == "__main__":
    main()
