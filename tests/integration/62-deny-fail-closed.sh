#!/bin/bash
# A deny that the database accepts but sluice cannot use fails closed.
# Rule 5 denies api.test /echo/admin* but its priority is a typo ('first',
# which the schema stores as text); rule 6 denies other.test /echo/x but its
# host has an empty label.  Neither may open what it closed: rule 5 denies
# every request to api.test, first of all, and rule 6 every host after it,
# each logged with its id; the upstream gets nothing.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

lab_rules_sql "
INSERT INTO rules (id, priority, host, path, action) VALUES (5, 'first', 'api.test', '/echo/admin*', 'deny');
INSERT INTO rules (id, priority, host, path, action) VALUES (6, 20, 'other..test', '/echo/x', 'deny');
INSERT INTO rules (id, priority, host, path, action) VALUES (7, 10, 'api.test', '/echo/*', 'allow');
INSERT INTO rules (id, priority, host, action) VALUES (8, 30, 'other.test', 'allow');" ||
	fail "inserting the rules (the schema accepts them)"
lab_start_sluice --default-policy deny

for u in https://api.test/echo/admin https://api.test/echo/ok https://other.test/echo/x https://other.test/echo/y; do
	code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' "$u") || fail "curl $u failed"
	assert_eq 403 "$code" "status of $u"
done
assert_eq 0 "$(lab_upstream_hits)" "requests the upstream got"
lab_log_wait '^level=warn event=rule_deny_widened rule=5 err="priority is not an integer" denying=api\.test$' >/dev/null ||
	fail "no log line for rule 5"
lab_log_wait '^level=warn event=rule_deny_widened rule=6 err="empty label in host" denying=\*$' >/dev/null ||
	fail "no log line for rule 6"
assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "api.test|/echo/admin|5
api.test|/echo/ok|5
other.test|/echo/x|6
other.test|/echo/y|6" \
	"$(lab_audit_sql "SELECT sni, path, rule_id FROM requests WHERE decision = 'denied' ORDER BY id")" \
	"audit rows (sni|path|rule_id)"
lab_stop_sluice
