#!/bin/bash
# bytes_in / bytes_out of a connections row are the bytes on the client's
# wire, TLS included: exactly what a client that counts every raw byte it
# sent and received saw, for an intercepted connection (handshake, request
# with a body, response, close_notify), one opened with CONNECT (the
# CONNECT head and its 200 too) and a passthrough tunnel.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# rawclient HOST CAFILE [PROXY]: one POST with a 5000-byte body over TLS to
# HOST:443 (through PROXY with CONNECT if given), read to the end; prints
# "STATUS SENT RECEIVED": the raw bytes on the socket, each way.
rawclient() {
	lab_in_c "$LAB_PY" - "$@" <<'PY'
import socket, ssl, sys
host, cafile = sys.argv[1], sys.argv[2]
proxy = sys.argv[3] if len(sys.argv) > 3 else None
sent = received = 0
if proxy:
    ph, pp = proxy.rsplit(":", 1)
    s = socket.create_connection((ph, int(pp)), timeout=10)
    head = ("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host, host)).encode()
    s.sendall(head)
    sent += len(head)
    got = b""
    while b"\r\n\r\n" not in got:
        b = s.recv(1)          # one byte at a time: nothing past the head
        if not b:
            sys.exit("proxy closed")
        got += b
    received += len(got)
else:
    s = socket.create_connection((host, 443), timeout=10)
ctx = ssl.create_default_context(cafile=cafile)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname=host)

def flush():
    global sent
    data = out.read()
    if data:
        s.sendall(data)
        sent += len(data)

def fill():
    global received
    data = s.recv(65536)
    if not data:
        inc.write_eof()
        return False
    received += len(data)
    inc.write(data)
    return True

while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        flush()
        if not fill():
            sys.exit("closed during the handshake")
flush()
body = b"x" * 5000
tls.write(b"POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
          b"Connection: close\r\n\r\n" % (host.encode(), len(body)) + body)
flush()
resp = b""
while True:
    try:
        d = tls.read(65536)
        if not d:
            break
        resp += d
    except ssl.SSLWantReadError:
        flush()
        if not fill():
            break
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
# What is left on the socket (close_notify, if not read yet), to the FIN.
while fill():
    pass
flush()                        # nothing: the client sends no close_notify
s.close()
print(resp.split(b" ", 2)[1].decode(), sent, received)
PY
}

row() {	# row SQL-WHERE: bytes_in|bytes_out of the one connection that matches
	lab_audit_sql "SELECT bytes_in || ' ' || bytes_out FROM connections WHERE $1"
}
wait_rows() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(lab_audit_sql "SELECT count(*) FROM connections")" = "$1" ] && return 0
		sleep 0.1
	done
	fail "connections rows: $(lab_audit_sql "SELECT count(*) FROM connections"), not $1"
}

read -r code sent recv <<<"$(rawclient api.test "$LAB_DIR/ica/ca.crt")" || fail "the raw client failed"
assert_eq 200 "$code" "status of the intercepted POST"
wait_rows 1
assert_eq "$sent $recv" "$(row "sni = 'api.test' AND connect_host IS NULL")" \
	"bytes_in bytes_out of the intercepted connection (client's raw counts: sent $sent, received $recv)"
[ "$sent" -gt 5000 ] || fail "the client sent $sent bytes for a 5000-byte body"

read -r code sent recv <<<"$(rawclient api.test "$LAB_DIR/ica/ca.crt" "$LAB_GL4:$LAB_CONNECT_PORT")" ||
	fail "the raw client through CONNECT failed"
assert_eq 200 "$code" "status of the POST through CONNECT"
wait_rows 2
assert_eq "$sent $recv" "$(row "connect_host = 'api.test'")" \
	"bytes_in bytes_out of the CONNECT connection (client's raw counts: sent $sent, received $recv)"

read -r code sent recv <<<"$(rawclient pinned.test "$LAB_DIR/certs/ca.crt")" ||
	fail "the raw client to the passthrough host failed"
assert_eq 200 "$code" "status of the passthrough POST"
wait_rows 3
assert_eq "$sent $recv" "$(row "sni = 'pinned.test'")" \
	"bytes_in bytes_out of the passthrough connection (client's raw counts: sent $sent, received $recv)"
lab_stop_sluice
