#!/bin/bash
# SIGTERM while an HTTP/2 client's WebSocket stream is open: once the drain
# timeout closes it, its row is written before sluice exits, with what
# crossed it so far and the error 'shutdown'.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up --drain-timeout 1
lab_require_h2

lab_ws --h2 --hold 6 --no-close one two >"$LAB_DIR/ws.out" &
pid=$!
lab_poll 10000 grep -q '"request"' "$LAB_WSLOG" >/dev/null || fail "the origin got no handshake"
sleep 1
lab_stop_sluice
wait $pid
out=$(cat "$LAB_DIR/ws.out")
assert_eq '200 ["one", "two"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echoes before the shutdown"
assert_eq "200|websocket|h2|$(lab_json "$out" 'd["sent"]')|$(lab_json "$out" 'd["received"]')|shutdown" \
	"$(lab_audit_sql "SELECT status, upgrade, client_proto, req_bytes, resp_bytes, error FROM requests")" \
	"audit row (status|upgrade|client_proto|req_bytes|resp_bytes|error)"
