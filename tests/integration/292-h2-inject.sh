#!/bin/bash
# Over HTTP/2, a rule's bearer credential reaches the HTTP/1.1 upstream as
# Authorization, and never the audit database nor sluice's log; the audit
# row names what was injected.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok', 'bearer-tok-292x');
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 'tok');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

out=$(lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	https://api.test/echo/bearer) || fail "curl --http2 failed"
assert_eq "200 2" "$out" "status and HTTP version"
assert_eq "Bearer bearer-tok-292x" "$(lab_uhdr /echo/bearer 1 Authorization)" \
	"Authorization the upstream got"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "forwarded|200|1" "$(lab_audit_sql "SELECT decision, status, rule_id FROM requests")" \
	"audit row (decision|status|rule_id)"
assert_contains "$(lab_audit_sql "SELECT injected FROM requests")" "Authorization" \
	"injected column of the audit row"
lab_stop_sluice
grep -a -q bearer-tok-292x "$LAB_DIR/audit.db"* && fail "the secret is in the audit database"
grep -a -q bearer-tok-292x "$LAB_DIR/sluice.log" && fail "the secret is in sluice's log"
true
