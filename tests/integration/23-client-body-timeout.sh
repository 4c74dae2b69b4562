#!/bin/bash
# A client that announces a body and stops sending it gets a 408 once
# --stream-idle-timeout passes without progress (a request body streaming is
# governed by it, not by --upstream-timeout), and the connection is closed.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 30 --stream-idle-timeout 2

out=$(lab_raw 'POST /echo/stalled HTTP/1.1\r\nHost: api.test\r\nContent-Length: 100\r\n\r\nonly ten b' 8) ||
	fail "raw client failed"
assert_eq "408
closed" "$out" "response to a body that stopped after 10 of 100 bytes (status, connection state)"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "408|error" "$(lab_audit_sql "SELECT status, decision FROM requests")" "audit row"
lab_stop_sluice
