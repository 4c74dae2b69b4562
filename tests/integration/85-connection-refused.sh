#!/bin/bash
# An upstream port that refuses the TCP connection gets the client a 502
# that says "connection refused", and the audit row says the same; it used
# to say "upstream TLS handshake failed".
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
# Nothing listens on U's port 9 (U answers with a TCP reset).
lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4:9"

code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 502 "$code" "status when the upstream refuses the connection"
assert_eq "cannot connect to upstream: connection refused" \
	"$(lab_json "$(cat "$LAB_DIR/body")" 'd["reason"]')" "reason in the 502 body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "502|error|cannot connect to upstream: connection refused" \
	"$(lab_audit_sql "SELECT status, decision, error FROM requests")" "audit row"
lab_stop_sluice
