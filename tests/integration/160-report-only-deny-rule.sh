#!/bin/bash
# --report-only: a request that a deny rule would refuse is forwarded as if
# allowed; the upstream receives it, the client gets the upstream's answer,
# the audit row says decision = 'would_deny' with the deny rule's id, and
# one event=would_deny log line names host, method, path and rule.  A
# request the rules allow is audited 'forwarded' as usual.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, priority, host, path, action) VALUES (7, 10, 'api.test', '/echo/admin*', 'deny');
	INSERT INTO rules (id, priority, host, action) VALUES (8, 20, 'api.test', 'allow');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --report-only

code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/echo/admin/users) || fail "curl failed"
assert_eq 200 "$code" "status of a request deny rule 7 covers, under --report-only"
assert_eq 1 "$(lab_upstream_hits /echo/admin/users)" "requests for /echo/admin/users the upstream got"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo/ok) || fail "curl failed"
assert_eq 200 "$code" "status of an allowed request"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "/echo/admin/users|would_deny|7|200
/echo/ok|forwarded|8|200" \
	"$(lab_audit_sql "SELECT path, decision, rule_id, status FROM requests ORDER BY id")" \
	"audit rows (path|decision|rule_id|status)"
line=$(lab_log_wait 'event=would_deny') || fail "no event=would_deny log line"
assert_contains "$line" "host=api.test method=GET path=/echo/admin/users rule=7" "the would_deny log line"
assert_eq 1 "$(grep -c 'event=would_deny' "$LAB_DIR/sluice.log")" "would_deny log lines"
lab_stop_sluice
