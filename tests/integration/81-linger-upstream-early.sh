#!/bin/bash
# An upstream that answers 413 before it has read an 8 MiB request body gets
# that answer to the client (sluice lingers on the client side), for curl
# without Expect: 100-continue and for Python's http.client.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
head -c $((8 << 20)) /dev/urandom >"$LAB_DIR/big"

for i in 1 2 3; do
	out=$(lab_curl -H 'Expect:' -T "$LAB_DIR/big" -o "$LAB_DIR/body" -w '%{http_code}' \
		"https://api.test/early/413?try=$i" 2>&1)
	assert_eq 413 "$out" "curl's status for an 8 MiB PUT refused early (try $i)"
	assert_eq true "$(lab_json "$(cat "$LAB_DIR/body")" 'd["early"]')" "the upstream's body (try $i)"

	out=$(lab_py_post "/early/413?py=$i" "$LAB_DIR/big")
	assert_eq '413 {"status": 413, "early": true}' "$out" \
		"http.client's answer to an 8 MiB POST refused early (try $i)"
done
assert_eq 6 "$(lab_audit_wait 6)" "audit rows"
assert_eq 6 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE status = 413 AND error IS NULL")" \
	"rows with the upstream's 413 and no error"
lab_stop_sluice
