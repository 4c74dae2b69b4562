#!/bin/bash
# A WebSocket that ends with a reset rather than a close is audited as
# such: its row's error says which side reset the tunnel.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up

out=$(lab_ws --reset abc)
assert_eq '101 ["abc"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echo"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "101|websocket|client reset the tunnel" \
	"$(lab_audit_sql "SELECT status, upgrade, error FROM requests")" \
	"audit row (status|upgrade|error)"
lab_stop_sluice
