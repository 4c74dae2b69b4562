#!/bin/bash
# A stream the client resets before its response came (RST_STREAM CANCEL)
# is audited as a cut request, like an HTTP/1 request whose connection
# closed; the connection goes on and its next stream is answered.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# A raw HTTP/2 client: GET /slow/3 on stream 1, RST_STREAM(CANCEL) after
# 0.5 s, then GET /echo/after on stream 3; prints the first byte of stream
# 3's response head (0x88 is HPACK's ":status: 200").
out=$(lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" <<'PY'
import socket, ssl, struct, sys, time

def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload

def get(stream, path):
    lit = lambda idx, v: bytes([idx, len(v)]) + v
    block = b"\x82\x87" + lit(4, path) + lit(1, b"api.test")
    return frame(1, 0x5, stream, block)	# HEADERS, END_HEADERS|END_STREAM

ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("api.test", 443), 10),
                    server_hostname="api.test")
assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + get(1, b"/slow/3"))
time.sleep(0.5)
s.sendall(frame(3, 0, 1, struct.pack(">I", 8)) + get(3, b"/echo/after"))
buf, deadline = b"", time.time() + 10
while time.time() < deadline:
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        kind, stream, payload = buf[3], int.from_bytes(buf[5:9], "big"), buf[9:9 + n]
        buf = buf[9 + n:]
        if kind == 1 and stream == 3:
            print("0x%02x" % payload[0])
            sys.exit(0)
    data = s.recv(65536)
    if not data:
        break
    buf += data
print("no response on stream 3")
PY
) || fail "the raw HTTP/2 client failed: $out"
assert_eq 0x88 "$out" "first byte of stream 3's response head"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "error||client reset the stream before the response ended (code 8)" \
	"$(lab_audit_sql "SELECT decision, status, error FROM requests WHERE path = '/slow/3'")" \
	"audit row of the reset stream (decision|status|error)"
assert_eq "forwarded|200" "$(lab_audit_sql "SELECT decision, status FROM requests WHERE path = '/echo/after'")" \
	"audit row of the next stream (decision|status)"
lab_stop_sluice
