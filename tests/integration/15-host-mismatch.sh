#!/bin/bash
# The rules see one host per request: a Host header that disagrees with the
# SNI is refused with 421 (a client cannot reach one host through another's
# rule); case and a port in Host do not count as disagreement.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny

code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' -H 'Host: evil.test' https://api.test/echo) ||
	fail "curl failed"
assert_eq 421 "$code" "status with SNI api.test and Host evil.test"
assert_not_contains "$(cat "$LAB_DIR/body")" conn_id "421 body"

code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' -H 'Host: API.Test:443' https://api.test/echo) ||
	fail "curl failed"
assert_eq 200 "$code" "status with SNI api.test and Host API.Test:443"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "421" "$(lab_audit_sql "SELECT status FROM requests ORDER BY id LIMIT 1")" \
	"audited status of the mismatched request"
lab_stop_sluice
