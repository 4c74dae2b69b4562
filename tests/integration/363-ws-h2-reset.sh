#!/bin/bash
# RST_STREAM from the client closes its WebSocket: the origin's connection
# ends, the other side of the tunnel, and the row says the client reset it.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up
lab_require_h2

out=$(lab_ws --h2 --reset abc)
assert_eq '200 ["abc"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echo"
lab_poll 5000 grep -q '"close"' "$LAB_WSLOG" >/dev/null || fail "the origin's connection did not end"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|websocket|client reset the stream before the response ended (code 8)" \
	"$(lab_audit_sql "SELECT status, upgrade, error FROM requests")" \
	"audit row (status|upgrade|error)"
lab_stop_sluice
