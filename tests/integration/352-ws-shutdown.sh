#!/bin/bash
# SIGTERM while a WebSocket is open: once the drain timeout closes it, its
# row is written before sluice exits, with what crossed it so far and the
# error 'shutdown'.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up --drain-timeout 1

lab_ws_shutdown
out=$(cat "$LAB_DIR/ws.out")
assert_eq "101|websocket|$(lab_json "$out" 'd["sent"]')|$(lab_json "$out" 'd["received"]')|shutdown" \
	"$(lab_audit_sql "SELECT status, upgrade, req_bytes, resp_bytes, error FROM requests")" \
	"audit row (status|upgrade|req_bytes|resp_bytes|error)"
