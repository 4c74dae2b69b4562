#!/usr/bin/env python3
"""grpc_upstream.py - the lab's gRPC server (python3-grpcio, no protobuf).

    grpc_upstream.py --cert FILE --key FILE --listen ADDR:PORT --log FILE

Serves TLS with one certificate (the lab's trusted default.crt names every
lab host), ALPN h2 only, as gRPC servers do.  Messages are raw bytes: the
handlers are generic, with no (de)serializers, so no code is generated.

Methods:
  /test.Echo/Unary    answers the request's bytes, with the trailing
                      metadata x-echo-len: the request's length
  /test.Echo/Bidi     answers every message with the same bytes, in order,
                      as they come; a message "status:CODE:DETAILS" (CODE a
                      grpc.StatusCode name) ends the call with that status
                      instead, after the answers so far ("{auth}" in
                      DETAILS: the call's authorization metadata, as an
                      error that quotes the request does)
  /test.Admin/Secret  answers b"secret": another service, for deny rules
Any other method gets UNIMPLEMENTED (and is logged like the others).

--log appends one JSON object per line for every call, before it runs:
{"method": "/test.Echo/Unary", "metadata": [[key, value], ...]} with the
metadata as the server received it (authorization included: the tests
check what reached the server), so a test can tell what reached this
server and what did not.
"""

import argparse
import json
import signal
import sys
import threading
from concurrent import futures

import grpc


class CallLog:
    """--log: one JSON object per line, written whole under a lock."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **obj):
        line = json.dumps(obj) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()


def unary(request, context):
    context.set_trailing_metadata((("x-echo-len", str(len(request))),))
    return request


def bidi(requests, context):
    for msg in requests:
        if msg.startswith(b"status:"):
            _, code, details = msg.decode("utf-8", "replace").split(":", 2)
            auth = dict(context.invocation_metadata()).get("authorization", "-")
            context.abort(grpc.StatusCode[code], details.replace("{auth}", auth))
        yield msg


def secret(request, context):
    return b"secret"


HANDLERS = {
    "/test.Echo/Unary": grpc.unary_unary_rpc_method_handler(unary),
    "/test.Echo/Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    "/test.Admin/Secret": grpc.unary_unary_rpc_method_handler(secret),
}


class LoggingHandler(grpc.GenericRpcHandler):
    """Logs every call's method and metadata, then finds its handler."""

    def __init__(self, log):
        self.log = log

    def service(self, details):
        self.log.write(method=details.method,
                       metadata=[[k, v if isinstance(v, str) else v.hex()]
                                 for k, v in details.invocation_metadata])
        return HANDLERS.get(details.method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    with open(args.key, "rb") as f:
        key = f.read()
    with open(args.cert, "rb") as f:
        cert = f.read()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         handlers=[LoggingHandler(CallLog(args.log))])
    if server.add_secure_port(args.listen,
                              grpc.ssl_server_credentials([(key, cert)])) == 0:
        sys.exit("grpc_upstream: cannot listen on %s" % args.listen)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    sys.stderr.write("grpc upstream ready on %s\n" % args.listen)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
