#!/bin/bash
# A CONNECT head with bare LF line ends (testssl.sh, shell clients) is
# accepted: RFC 9112 lets a recipient, and this head is never forwarded.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# via HEAD-EOL REQUEST-EOL: CONNECT with HEAD-EOL line ends, then one GET
# with REQUEST-EOL ones over TLS; prints the CONNECT status line and the
# GET's status code.
via() {
	lab_in_c "$LAB_PY" - "$LAB_GL4" "$LAB_CONNECT_PORT" "$LAB_DIR/ica/ca.crt" "$1" "$2" <<'PY'
import socket, ssl, sys
eol = {"lf": b"\n", "crlf": b"\r\n"}
h, r = eol[sys.argv[4]], eol[sys.argv[5]]
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"CONNECT api.test:443 HTTP/1.1" + h + b"Host: api.test:443" + h + h)
data = b""
while b"\r\n\r\n" not in data:
    b = s.recv(1)
    if not b:
        break
    data += b
print(data.split(b"\r\n")[0].decode())
if not data.startswith(b"HTTP/1.1 200"):
    sys.exit(0)
ctx = ssl.create_default_context(cafile=sys.argv[3])
t = ctx.wrap_socket(s, server_hostname="api.test")
t.sendall(b"GET /echo?eol=" + sys.argv[4].encode() + b" HTTP/1.1" + r + b"Host: api.test" + r +
          b"Connection: close" + r + r)
resp = b""
try:
    while True:
        b = t.recv(65536)
        if not b:
            break
        resp += b
except (ssl.SSLError, OSError):
    pass
print(resp.split(b"\r\n")[0].decode().split(" ")[1] if resp.startswith(b"HTTP/1.1") else "none")
PY
}
assert_eq "HTTP/1.1 200 Connection established
200" "$(via lf crlf)" "CONNECT with bare LF, then a CRLF request"
assert_eq "HTTP/1.1 200 Connection established
200" "$(via crlf crlf)" "CONNECT with CRLF, then a CRLF request"
assert_eq 1 "$(lab_upstream_hits /echo?eol=lf)" "requests the upstream got from the bare-LF CONNECT"
lab_stop_sluice
