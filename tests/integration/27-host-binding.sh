#!/bin/bash
# The Host check does not depend on SNI: without SNI, Host must name the
# CONNECT host (CONNECT) or the destination address (transparent), else 421
# and nothing is forwarded, so a Host header cannot steer a request, and the
# credential its rule carries, to another name than the one verified.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('k', 'sekrit-for-api');
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow'), (2, '$LAB_U4', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'header', 'X-Key', 'k')" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4"

# nosni MODE HOST: one GET /echo without SNI, with Host: HOST; MODE connect
# goes through CONNECT api.test:443, MODE direct to the upstream's address.
# Prints the status.
nosni() {
	lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$1" "$2" "$LAB_GL4" "$LAB_CONNECT_PORT" "$LAB_U4" <<'PY'
import socket, ssl, sys
ca, mode, host, gw, cport, up = sys.argv[1:]
if mode == "connect":
    s = socket.create_connection((gw, int(cport)), timeout=10)
    s.sendall(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
    resp = b""
    while b"\r\n\r\n" not in resp:
        resp += s.recv(1)
    assert resp.startswith(b"HTTP/1.1 200"), resp
else:
    s = socket.create_connection((up, 443), timeout=10)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
t = ctx.wrap_socket(s, server_hostname=None)
t.sendall(("GET /echo HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
data = b""
while True:
    b = t.recv(65536)
    if not b:
        break
    data += b
print(data.split(b" ", 2)[1].decode())
PY
}

assert_eq 421 "$(nosni connect evil.test)" "CONNECT api.test, no SNI, Host evil.test"
assert_eq 200 "$(nosni connect api.test)" "CONNECT api.test, no SNI, Host api.test"
assert_eq 421 "$(nosni direct api.test)" "transparent to $LAB_U4, no SNI, Host api.test"
assert_eq 200 "$(nosni direct "$LAB_U4")" "transparent to $LAB_U4, no SNI, Host $LAB_U4"

# The upstream got the two matching requests only, api.test's key only in
# the one for api.test.
assert_eq 2 "$(lab_uhits /echo)" "requests that reached the upstream"
assert_eq "api.test|sekrit-for-api" "$(lab_uhdr /echo 1 Host)|$(lab_uhdr /echo 1 X-Key)" \
	"Host and X-Key of the first request at the upstream"
assert_eq "$LAB_U4|" "$(lab_uhdr /echo 2 Host)|$(lab_uhdr /echo 2 X-Key)" \
	"Host and X-Key of the second request at the upstream"
assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "421|421" "$(lab_audit_sql "SELECT group_concat(status, '|') FROM requests WHERE status = 421")" \
	"audited 421s"
lab_stop_sluice
