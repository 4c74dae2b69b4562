#!/bin/bash
# sluice checks the origin's 101 against the Sec-WebSocket-Key it sent: a
# wrong Sec-WebSocket-Accept is no WebSocket, and the HTTP/2 stream gets a
# 502 instead of a tunnel.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up
lab_require_h2

out=$(lab_ws --h2 --path /ws/bad-accept hello)
assert_eq '502 []' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echoes for a 101 with the wrong Sec-WebSocket-Accept"
assert_contains "$(lab_json "$out" 'd["body"]')" "Sec-WebSocket-Accept" "the 502's body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "/ws/bad-accept|502|NULL" \
	"$(lab_audit_sql "SELECT path, status, quote(upgrade) FROM requests")" \
	"audit row (path|status|upgrade)"
lab_stop_sluice
