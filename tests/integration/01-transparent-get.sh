#!/bin/bash
# A GET redirected by netfilter is intercepted with a forged certificate,
# forwarded to the real upstream, and audited with the connection's addresses.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code} %{local_port} %{remote_ip}' \
	'https://api.test/echo?from=01') || fail "curl through sluice failed"
read -r code lport rip <<<"$out"
assert_eq 200 "$code" "status of GET https://api.test/echo"
assert_eq "$LAB_U4" "$rip" "address the client connected to"
body=$(cat "$LAB_DIR/body")
assert_eq "/echo?from=01" "$(lab_json "$body" 'd["path"]')" "path the upstream saw"
assert_eq GET "$(lab_json "$body" 'd["method"]')" "method the upstream saw"
assert_eq api.test "$(lab_json "$body" '[v for k, v in d["headers"] if k.lower() == "host"][0]')" \
	"Host header the upstream saw"

# The certificate the client saw: forged by sluice's CA for the SNI.
code=$(lab_cert_of "$LAB_DIR/leaf.pem" https://api.test/echo)
assert_eq 200 "$code" "status of the second GET"
assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate the client saw"
assert_contains "$(cert_san "$LAB_DIR/leaf.pem")" "DNS:api.test" "subjectAltName of the forged leaf"
openssl verify -CAfile "$LAB_DIR/certs/ca.crt" "$LAB_DIR/leaf.pem" >/dev/null 2>&1 &&
	fail "the client was shown the upstream's own certificate"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows after two requests"
row=$(lab_audit_sql "SELECT decision, status, sni, host, method, path, server, client
	FROM requests ORDER BY id LIMIT 1")
assert_eq "forwarded|200|api.test|api.test|GET|/echo?from=01|$LAB_U4:443|$LAB_C4:$lport" \
	"$row" "first audit row (decision|status|sni|host|method|path|server|client)"
ts=$(lab_audit_sql "SELECT ts FROM requests ORDER BY id LIMIT 1")
[[ $ts =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] ||
	fail "audit ts '$ts' is not UTC ISO 8601 with milliseconds"

lab_stop_sluice
