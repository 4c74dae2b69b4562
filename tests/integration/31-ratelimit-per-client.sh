#!/bin/bash
# Rate limit scope: 'client' keeps one bucket per client IP (client A using
# its burst of 2 leaves client B's untouched), 'rule' one bucket for all
# clients (what A used, B cannot).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_client2_up
lab_rules_sql "
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO rules (id, host, action) VALUES (2, 'other.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst, scope) VALUES
		(1, 2, 3600, 2, 'client'),
		(2, 2, 3600, 2, 'rule');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

# code_from ADDR URL: the status of GET URL sent from client address ADDR.
code_from() { lab_curl --interface "$1" -o /dev/null -w '%{http_code}' "$2" || fail "curl from $1 $2 failed"; }

# Per client (rule 1).
assert_eq 200 "$(code_from "$LAB_C4" https://api.test/echo/a1)" "client A, 1st request"
assert_eq 200 "$(code_from "$LAB_C4" https://api.test/echo/a2)" "client A, 2nd request"
assert_eq 429 "$(code_from "$LAB_C4" https://api.test/echo/a3)" "client A, 3rd request (its bucket is empty)"
assert_eq 200 "$(code_from "$LAB_C4B" https://api.test/echo/b1)" "client B, 1st request (a bucket of its own)"
assert_eq 200 "$(code_from "$LAB_C4B" https://api.test/echo/b2)" "client B, 2nd request"
assert_eq 429 "$(code_from "$LAB_C4B" https://api.test/echo/b3)" "client B, 3rd request (its bucket is empty)"
assert_eq 429 "$(code_from "$LAB_C4" https://api.test/echo/a4)" "client A again (still empty)"

# Per rule (rule 2): A's two requests empty the one bucket for everybody.
assert_eq 200 "$(code_from "$LAB_C4" https://other.test/echo/a1)" "rule scope, client A, 1st request"
assert_eq 200 "$(code_from "$LAB_C4" https://other.test/echo/a2)" "rule scope, client A, 2nd request"
assert_eq 429 "$(code_from "$LAB_C4B" https://other.test/echo/b1)" "rule scope, client B after A used the burst"

assert_eq 10 "$(lab_audit_wait 10)" "audit rows"
# client is 'ip:port'; compare the ip only
rows=$(lab_audit_sql "SELECT substr(client, 1, instr(client, ':') - 1), sni, path, decision, status, rule_id
	FROM requests ORDER BY id")
assert_eq "$LAB_C4|api.test|/echo/a1|forwarded|200|1
$LAB_C4|api.test|/echo/a2|forwarded|200|1
$LAB_C4|api.test|/echo/a3|rate_limited|429|1
$LAB_C4B|api.test|/echo/b1|forwarded|200|1
$LAB_C4B|api.test|/echo/b2|forwarded|200|1
$LAB_C4B|api.test|/echo/b3|rate_limited|429|1
$LAB_C4|api.test|/echo/a4|rate_limited|429|1
$LAB_C4|other.test|/echo/a1|forwarded|200|2
$LAB_C4|other.test|/echo/a2|forwarded|200|2
$LAB_C4B|other.test|/echo/b1|rate_limited|429|2" "$rows" \
	"audit rows (client ip|sni|path|decision|status|rule_id)"
lab_stop_sluice
