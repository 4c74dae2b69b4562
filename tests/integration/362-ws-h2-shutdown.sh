#!/bin/bash
# SIGTERM while an HTTP/2 client's WebSocket stream is open: once the drain
# timeout closes it, its row is written before sluice exits, with what
# crossed it so far and the error 'shutdown'.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up --drain-timeout 1
lab_require_h2

lab_ws_shutdown --h2
out=$(cat "$LAB_DIR/ws.out")
assert_eq "200|websocket|h2|$(lab_json "$out" 'd["sent"]')|$(lab_json "$out" 'd["received"]')|shutdown" \
	"$(lab_audit_sql "SELECT status, upgrade, client_proto, req_bytes, resp_bytes, error FROM requests")" \
	"audit row (status|upgrade|client_proto|req_bytes|resp_bytes|error)"
