#!/bin/bash
# An HTTP/1.1 WebSocket that carries nothing for --stream-idle-timeout is
# closed, as an HTTP/2 client's is (364), and its row says so: the
# tunnel after a 101 is the exchange's bodies streaming.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up --stream-idle-timeout 1

out=$(lab_ws --hold 4 abc)
assert_eq '101 ["abc"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echo"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "101|websocket|tunnel idle for 1 s|1" \
	"$(lab_audit_sql "SELECT status, upgrade, error, duration_ms < 3000 FROM requests")" \
	"audit row (status|upgrade|error|closed well before the client's 4 s)"
lab_stop_sluice
