#!/bin/bash
# A passthrough host is relayed untouched: the client sees the upstream's own
# certificate, and the connection is one audit row without method or path.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy allow

out=$(lab_in_c curl -sS -4 --max-time 30 --cacert "$LAB_DIR/certs/ca.crt" \
	-o "$LAB_DIR/body" -w '%{http_code}\n%{certs}' https://pinned.test/echo https://pinned.test/echo) ||
	fail "curl to pinned.test trusting only the upstream CA failed"
assert_eq 200 "$(printf '%s\n' "$out" | head -n 1)" "status of the passthrough request"
printf '%s\n' "$out" | awk '/-----BEGIN CERTIFICATE-----/ { p = 1 }
	p { print } /-----END CERTIFICATE-----/ { exit }' > "$LAB_DIR/leaf.pem"
assert_eq "$(cert_subject "$LAB_DIR/certs/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate the client saw"
assert_eq "DNS:pinned.test" "$(cert_san "$LAB_DIR/leaf.pem")" "subjectAltName the client saw"

# Trusting only sluice's CA must fail for pinned.test, and still work for api.test.
lab_curl -o /dev/null https://pinned.test/echo 2>/dev/null &&
	fail "pinned.test verified against the interception CA: it was intercepted"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl to api.test failed"
assert_eq 200 "$code" "status of an intercepted request next to the passthrough rule"

lab_stop_sluice
rows=$(lab_audit_sql "SELECT decision, rule_id, quote(method), quote(path), server
	FROM requests WHERE sni = 'pinned.test'")
# Two connections: the verified one (two requests) and the refused one.
assert_eq "passthrough|3|NULL|NULL|$LAB_U4:443
passthrough|3|NULL|NULL|$LAB_U4:443" "$rows" \
	"audit rows for pinned.test (decision|rule_id|method|path|server)"
assert_eq "forwarded|GET" \
	"$(lab_audit_sql "SELECT decision, method FROM requests WHERE sni = 'api.test'")" \
	"audit row for api.test"
