#!/bin/bash
# A 403 for a request whose 8 MiB body is still arriving reaches the client
# (lingering close), for curl without Expect: 100-continue and for Python's
# http.client, which writes the whole body before it reads; it used to get
# a reset (SSL EOF / broken pipe) instead.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, priority, host, path, action)
	VALUES (5, 10, 'api.test', '/upload*', 'deny');
	INSERT INTO rules (id, priority, host, action) VALUES (6, 20, 'api.test', 'allow');" ||
	fail "inserting rules"
lab_start_sluice --default-policy deny
head -c $((8 << 20)) /dev/urandom >"$LAB_DIR/big"

for i in 1 2 3; do
	out=$(lab_curl -H 'Expect:' -H 'Content-Type: application/octet-stream' \
		--data-binary @"$LAB_DIR/big" -o "$LAB_DIR/body" -w '%{http_code}' \
		https://api.test/upload/$i 2>&1)
	assert_eq 403 "$out" "curl's status for an 8 MiB POST denied early (try $i)"
	assert_eq 5 "$(lab_json "$(cat "$LAB_DIR/body")" 'd["rule"]')" "rule in the 403 body (try $i)"

	out=$(lab_py_post /upload/py$i "$LAB_DIR/big")
	assert_eq '403 {"error":"denied","rule":5}' "$out" \
		"http.client's answer to an 8 MiB POST denied early (try $i)"
done

# The connection stays usable up to the answer: an allowed upload still works.
out=$(lab_py_post /echo "$LAB_DIR/big")
assert_contains "$out" "200 " "an allowed 8 MiB POST"
assert_eq 7 "$(lab_audit_wait 7)" "audit rows"
assert_eq 6 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'denied' AND status = 403")" \
	"denied rows"
lab_stop_sluice
