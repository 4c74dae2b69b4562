#!/bin/bash
# --upstream-timeout bounds the wait for a response head only: a streaming
# response that pauses longer (4 s, with --upstream-timeout 2) but within
# --stream-idle-timeout (default 300 s) reaches the client whole.  It used
# to be cut after 2 s.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 2

lab_curl -o "$LAB_DIR/body" https://api.test/pause/4 2>"$LAB_DIR/err" ||
	fail "curl failed for a stream pausing 4 s: $(cat "$LAB_DIR/err")"
assert_eq "first
second" "$(cat "$LAB_DIR/body")" "the paused stream's body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|forwarded|" "$(lab_audit_sql "SELECT status, decision, error FROM requests")" "audit row"
lab_stop_sluice
