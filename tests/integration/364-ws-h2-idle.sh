#!/bin/bash
# An HTTP/2 client's WebSocket stream that carries nothing for
# --stream-idle-timeout is reset, its origin connection closed, and its row
# says so.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up --stream-idle-timeout 1
lab_require_h2

out=$(lab_ws --h2 --hold 3 abc)
assert_eq '200 ["abc"] reset 2' \
	"$(lab_json "$out" '"%d %s %s" % (d["status"], json.dumps(d["echoes"]), d["closed"])')" \
	"status, echo and end of the stream (INTERNAL_ERROR)"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|websocket|error|stream idle for 1 s" \
	"$(lab_audit_sql "SELECT status, upgrade, decision, error FROM requests")" \
	"audit row (status|upgrade|decision|error)"
lab_stop_sluice
