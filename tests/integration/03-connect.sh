#!/bin/bash
# Explicit proxy mode: CONNECT host:443 on the --connect listener, the host
# resolved by --resolve, then the same interception as the transparent mode.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
out=$(lab_curl --proxy "$proxy" -o "$LAB_DIR/body" -w '%{http_code}' \
	'https://api.test/echo?via=connect') || fail "curl --proxy $proxy failed"
assert_eq 200 "$out" "status through CONNECT"
assert_eq "/echo?via=connect" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path the upstream saw"

code=$(lab_cert_of "$LAB_DIR/leaf.pem" --proxy "$proxy" https://api.test/echo)
assert_eq 200 "$code" "status of the second request through CONNECT"
assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate seen through CONNECT"
assert_contains "$(cert_san "$LAB_DIR/leaf.pem")" "DNS:api.test" "subjectAltName of the forged leaf"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "forwarded|200|api.test|GET|$LAB_U4:443" \
	"$(lab_audit_sql "SELECT decision, status, sni, method, server FROM requests WHERE path = '/echo?via=connect'")" \
	"audit row (decision|status|sni|method|server)"

lab_stop_sluice
