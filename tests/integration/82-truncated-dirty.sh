#!/bin/bash
# A response delimited by the close that the upstream ends without
# close_notify may have been cut: the client must not see a clean end (its
# connection is reset: curl says so), and the audit row says why.  (Python's
# ssl module cannot tell: it passes a missing close_notify and even a reset
# off as a clean end, suppress_ragged_eofs.)
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
n=300000

lab_curl -o "$LAB_DIR/body" "https://api.test/until-close/$n?cut=dirty" 2>"$LAB_DIR/err"
rc=$?
[ "$rc" != 0 ] || fail "curl exited 0 for a response the upstream cut off without close_notify"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|error|upstream closed without close_notify; response truncated" \
	"$(lab_audit_sql "SELECT status, decision, error FROM requests")" "audit row of the cut response"

lab_stop_sluice
