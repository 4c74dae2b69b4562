#!/bin/bash
# Over HTTP/2 a rate limit answers 429 on the stream past the burst, with
# Retry-After, while the connection goes on; audited rate_limited.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst)
		VALUES (1, 2, 3600, 2);" || fail "inserting the rules"
lab_start_sluice --default-policy deny

out=$(lab_curl --http2 -w '%{http_code} %{http_version} %{num_connects}\n' \
	-o /dev/null https://api.test/echo/1 -o /dev/null https://api.test/echo/2 \
	-D "$LAB_DIR/head" -o "$LAB_DIR/body" https://api.test/echo/3) ||
	fail "curl --http2 with three URLs failed"
assert_eq "200 2 1
200 2 0
429 2 0" "$out" "status, HTTP version and new connections of the three requests"
ra=$(tr -d '\r' <"$LAB_DIR/head" | grep -i -m1 '^retry-after:' | sed 's/^[^:]*: *//')
[[ $ra =~ ^[0-9]+$ ]] || fail "Retry-After '$ra' of the 429 is not whole seconds"
assert_eq rate_limited "$(lab_json "$(cat "$LAB_DIR/body")" 'd["error"]')" "error in the 429 body"
assert_eq 0 "$(lab_uhits /echo/3)" "requests the upstream got for the limited one"

assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
assert_eq "rate_limited|429|1" \
	"$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE path = '/echo/3'")" \
	"audit row of the limited request (decision|status|rule_id)"
lab_stop_sluice
