#!/bin/bash
# SIGHUP reopens the audit database (for rotation schemes that move the file
# and signal), and rows go on being written.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status before SIGHUP"
kill -HUP "$LAB_SLUICE_PID"
lab_log_wait 'event=audit_reopen .*reason=SIGHUP' >/dev/null || fail "no reopen after SIGHUP"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status after SIGHUP"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
# A connection's row is queued when sluice sees the client close, which may
# be a batch after its request's row: count them once sluice has stopped.
lab_stop_sluice
assert_eq 2 "$(lab_audit_sql "SELECT count(*) FROM connections")" "connection rows"
