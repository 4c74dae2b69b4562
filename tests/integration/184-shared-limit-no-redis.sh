#!/bin/bash
# A shared limit on a gateway started without --redis is decided by its
# local bucket at rate / --fleet-size (20 per 10 s over a fleet of 2: a
# burst of 10, a token per second), said once in the log, and its audit
# rows say limit_source 'local'; rows under no limit say NULL.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_init
{ echo 'BEGIN;'; cat "$LAB_SRCDIR/rules/migrate-2.sql"; echo 'PRAGMA user_version = 2; COMMIT;'; } |
	sqlite3 "$LAB_DIR/rules.db" || fail "migrating the rules database to version 2"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow'),
		(2, 'api.test', '/status/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --workers 1 --fleet-size 2

lab_burst 15 https://api.test/echo/x >"$LAB_DIR/codes" || fail "lab_burst failed"
assert_eq "200 10
429 5" "$(lab_codes <"$LAB_DIR/codes")" "answers of a burst of 15 (local share: burst 10)"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/status/200) || fail "curl failed"
assert_eq 200 "$code" "a request under no limit"
assert_eq 1 "$(grep -c 'shared limits (rule 1 first) but no --redis: each decided locally at rate/2' \
	"$LAB_DIR/sluice.log")" "the log line, once"
assert_eq 16 "$(lab_audit_wait 16)" "audit rows"
assert_eq "forwarded|local|10
rate_limited|local|5
forwarded||1" "$(lab_audit_sql "SELECT decision, limit_source, count(*) FROM requests
	GROUP BY 1, 2 ORDER BY limit_source IS NULL, 1")" "audit (decision|limit_source|count)"
lab_stop_sluice
