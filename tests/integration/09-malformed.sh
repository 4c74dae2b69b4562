#!/bin/bash
# Ambiguous or malformed requests get a 400 and the connection is closed;
# sluice keeps serving well-formed requests.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# Sends one raw request over TLS to api.test's IPv4 address (SNI api.test,
# trusting the interception CA) and prints the status code, then "closed" if sluice closed the
# connection within 5 s of its response.
raw() {
	lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$1" "$LAB_U4" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
raw = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = ctx.wrap_socket(socket.create_connection((sys.argv[3], 443), timeout=10),
                    server_hostname="api.test")
s.sendall(raw)
data = b""
closed = False
deadline = time.time() + 5
s.settimeout(1)
while time.time() < deadline:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    except (ssl.SSLError, ConnectionError):
        closed = True
        break
    if not b:
        closed = True
        break
    data += b
line = data.split(b"\r\n", 1)[0].decode("latin-1")
print(line.split(" ")[1] if line.startswith("HTTP/1.") else "no-status:" + repr(data[:80]))
print("closed" if closed else "open")
PY
}

check() {	# check WHAT REQUEST
	local out
	out=$(raw "$2") || fail "raw client failed for: $1"
	assert_eq "400
closed" "$out" "response to $1 (status, connection state)"
}

check "Content-Length together with Transfer-Encoding" \
	'POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
check "an obs-fold header line" \
	'GET /echo HTTP/1.1\r\nHost: api.test\r\nX-Folded: a\r\n b\r\n\r\n'
check "two different Content-Length values" \
	'POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
check "whitespace between a header name and the colon" \
	'GET /echo HTTP/1.1\r\nHost : api.test\r\n\r\n'
check "a request line with no HTTP version" \
	'GET /echo\r\nHost: api.test\r\n\r\n'

# A well-formed raw request on the same path keeps the connection open.
assert_eq "200
open" "$(raw 'GET /echo HTTP/1.1\r\nHost: api.test\r\n\r\n')" \
	"response to a well-formed raw request (status, connection state)"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status of a normal request after the malformed ones"
lab_stop_sluice
