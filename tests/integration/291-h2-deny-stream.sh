#!/bin/bash
# Over HTTP/2, a denied request gets sluice's 403 JSON on its own stream and
# another request on the same connection is forwarded: a deny ends a stream,
# not the connection.  Each stream is audited as its own request.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, path, action) VALUES (7, 10, 'api.test', '/echo/secret*', 'deny');
	INSERT INTO rules (id, priority, host, action) VALUES (8, 20, 'api.test', 'allow');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

out=$(lab_curl --http2 -w '%{http_code} %{http_version} %{num_connects}\n' \
	-o "$LAB_DIR/denied" https://api.test/echo/secret \
	-o "$LAB_DIR/allowed" https://api.test/echo/open) || fail "curl --http2 with two URLs failed"
assert_eq "403 2 1
200 2 0" "$out" "status, HTTP version and new connections of the two requests"
body=$(cat "$LAB_DIR/denied")
assert_eq denied "$(lab_json "$body" 'd["error"]')" "error in the 403 body"
assert_eq 7 "$(lab_json "$body" 'd["rule"]')" "rule in the 403 body"
assert_eq /echo/open "$(lab_json "$(cat "$LAB_DIR/allowed")" 'd["path"]')" \
	"path the upstream saw for the allowed request"
assert_eq 0 "$(lab_uhits /echo/secret)" "requests the upstream got for the denied path"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "denied|403|7;forwarded|200|8" \
	"$(lab_audit_sql "SELECT group_concat(decision || '|' || status || '|' || rule_id, ';')
		FROM (SELECT * FROM requests ORDER BY path DESC)")" \
	"audit rows (decision|status|rule_id), denied then allowed"
assert_eq 1 "$(lab_audit_sql "SELECT count(DISTINCT conn_id) FROM requests")" \
	"connections the two audit rows name"
lab_stop_sluice
