#!/bin/bash
# A response delimited by the close that the upstream ends with a TCP reset
# is cut: the client's connection is reset too, and the audit row says so.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_curl -o "$LAB_DIR/body" "https://api.test/until-close/300000?cut=rst" 2>"$LAB_DIR/err"
rc=$?
[ "$rc" != 0 ] || fail "curl exited 0 for a response the upstream cut off with a reset"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|error|upstream reset the connection; response truncated" \
	"$(lab_audit_sql "SELECT status, decision, error FROM requests")" "audit row of the reset response"
lab_stop_sluice
