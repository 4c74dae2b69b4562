#!/bin/bash
# Denials: the default policy (rule null) and a deny rule (its id) answer 403
# with a JSON body, never reach the upstream, and are audited as denied.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

# No rules, default deny.
lab_start_sluice --default-policy deny
code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 403 "$code" "status with no rules and --default-policy deny"
body=$(cat "$LAB_DIR/body")
assert_eq denied "$(lab_json "$body" 'd["error"]')" "error in the 403 body"
assert_eq null "$(lab_json "$body" 'd["rule"]')" "rule in the 403 body (default policy)"
assert_not_contains "$body" conn_id "403 body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "denied|403||GET|/echo" \
	"$(lab_audit_sql 'SELECT decision, status, rule_id, method, path FROM requests')" \
	"audit row (decision|status|rule_id|method|path)"
lab_stop_sluice

# Rule 7 denies /echo*, rule 8 allows the rest of api.test.
lab_rules_sql "INSERT INTO rules (id, priority, host, path, action, note)
	VALUES (7, 10, 'api.test', '/echo*', 'deny', 'no echo');
	INSERT INTO rules (id, priority, host, action) VALUES (8, 20, 'api.test', 'allow');" ||
	fail "inserting rules"
lab_start_sluice --default-policy deny
code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' 'https://api.test/echo?x=1') || fail "curl failed"
assert_eq 403 "$code" "status of a request matching deny rule 7"
body=$(cat "$LAB_DIR/body")
assert_eq denied "$(lab_json "$body" 'd["error"]')" "error in the 403 body"
assert_eq 7 "$(lab_json "$body" 'd["rule"]')" "rule in the 403 body"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/status/200) || fail "curl failed"
assert_eq 200 "$code" "status of a request allowed by rule 8"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://other.test/echo) || fail "curl failed"
assert_eq 403 "$code" "status of a host no rule names (default deny)"

assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "denied|403|7" \
	"$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE path = '/echo?x=1'")" \
	"audit row of the request denied by rule 7"
assert_eq "forwarded|200|8" \
	"$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE path = '/status/200'")" \
	"audit row of the request allowed by rule 8"
assert_eq "denied|403|" \
	"$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE sni = 'other.test'")" \
	"audit row of the default-denied other.test request"
lab_stop_sluice
