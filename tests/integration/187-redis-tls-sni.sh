#!/bin/bash
# --redis-sni: Redis's certificate names api.test only (signed by the
# trusted CA).  Checked against the --redis address (an IP SAN, the
# default) it is refused: decisions are local and the log names the
# mismatch.  With --redis-sni api.test it is accepted: decisions are
# shared ('redis').
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start_tls "$LAB_DIR/certs/trusted/api.test"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"

lab_start_sluice --redis "$LAB_U4:$FLEET_REDIS_PORT" --redis-tls --default-policy deny \
	--workers 1 --redis-timeout-ms 50
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo/byip)" "status"
lab_log_wait 'TLS to Redis failed' 5 >/dev/null || fail "no TLS failure logged"
grep -q 'TLS to Redis failed: certificate verify failed: IP address mismatch' "$LAB_DIR/sluice.log" ||
	fail "the log does not name the mismatch: $(grep -m1 'TLS to Redis' "$LAB_DIR/sluice.log")"
lab_stop_sluice

lab_start_sluice --redis "$LAB_U4:$FLEET_REDIS_PORT" --redis-tls --redis-sni api.test \
	--default-policy deny --workers 1 --redis-timeout-ms 500
for i in 1 2 3; do
	lab_curl -o /dev/null -w '%{http_code}\n' https://api.test/echo/byname
done >"$LAB_DIR/codes"
assert_eq "200 3" "$(lab_codes <"$LAB_DIR/codes")" "status codes with --redis-sni"
assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "byip|local
byname|redis" "$(lab_audit_sql "SELECT DISTINCT substr(path, 7), limit_source FROM requests ORDER BY 1")" \
	"audit (path|limit_source)"
lab_stop_sluice
