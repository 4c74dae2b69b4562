#!/bin/bash
# Over HTTP/2, a request whose :authority names another host than the SNI
# gets 421 on its stream (it cannot ride on api.test's rule), and the next
# request on the same connection, for the right host, is forwarded.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny

# curl sends a Host it is given as :authority; --next resets its options
# (the next URL gets its own), not its connections.
w='%{http_code} %{http_version} %{num_connects}\n'
out=$(lab_curl --http2 -w "$w" -o "$LAB_DIR/evil" -H 'Host: evil.test' https://api.test/echo/evil \
	--next -sS -4 --http2 --cacert "$LAB_DIR/ica/ca.crt" -w "$w" -o "$LAB_DIR/good" \
	https://api.test/echo/good) || fail "curl --http2 with two URLs failed"
assert_eq "421 2 1
200 2 0" "$out" "status, HTTP version and new connections of the two requests"
assert_eq misdirected "$(lab_json "$(cat "$LAB_DIR/evil")" 'd["error"]')" "error in the 421 body"
assert_eq 0 "$(lab_uhits /echo/evil)" "requests the upstream got for the misdirected one"
assert_eq 1 "$(lab_uhits /echo/good)" "requests the upstream got for the right host"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "error|421" "$(lab_audit_sql "SELECT decision, status FROM requests WHERE path = '/echo/evil'")" \
	"audit row of the misdirected request (decision|status)"
lab_stop_sluice
