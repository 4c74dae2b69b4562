#!/bin/bash
# A WebSocket over HTTP/1.1 through sluice: messages echo, and the upgraded
# request gets one audit row, written when the WebSocket closes (none while
# it is open), with status 101, upgrade 'websocket', the bytes that crossed
# the tunnel each way (frames included) and no error for a clean close.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up

lab_ws --hold 3 hello "second message" >"$LAB_DIR/ws.out" &
pid=$!
sleep 1.5
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM requests")" "audit rows while the WebSocket is open"
wait $pid || fail "wsclient.py failed"
out=$(cat "$LAB_DIR/ws.out")
assert_eq '101 True ["hello", "second message"] eof' \
	"$(lab_json "$out" '"%d %s %s %s" % (d["status"], d["accept_ok"], json.dumps(d["echoes"]), d["closed"])')" \
	"status, Sec-WebSocket-Accept, echoes and end seen by the client"
sent=$(lab_json "$out" 'd["sent"]')
received=$(lab_json "$out" 'd["received"]')
assert_eq 1 "$(lab_audit_wait 1)" "audit rows once the WebSocket closed"
assert_eq "GET|/ws|101|forwarded|'websocket'|$sent|$received|'http/1.1'|'http/1.1'|NULL" \
	"$(lab_audit_sql "SELECT method, path, status, decision, quote(upgrade), req_bytes,
		resp_bytes, quote(client_proto), quote(upstream_proto), quote(error) FROM requests")" \
	"audit row (method|path|status|decision|upgrade|req_bytes|resp_bytes|protos|error)"
assert_eq 1 "$(lab_audit_sql "SELECT duration_ms >= 3000 FROM requests")" \
	"duration_ms covers the WebSocket's whole life"
assert_eq "api.test|1|$received" "$(lab_audit_sql "SELECT * FROM top_hosts")" \
	"top_hosts counts the tunnel's bytes"
lab_stop_sluice
