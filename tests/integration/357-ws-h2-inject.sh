#!/bin/bash
# A credential a rule injects reaches the origin with the WebSocket
# handshake an HTTP/2 client's extended CONNECT became, and is in neither
# the audit database (which names the injected field) nor the log.
. "$(dirname "$0")/../lab/lab.sh"
S=ws-SLUICETEST-357-s3cret
lab_wsecho_inject_up "$S"
lab_require_h2

out=$(lab_ws --h2 --path /ws/chat ping)
assert_eq '200 ["ping"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echo with an injected bearer"
assert_eq "/ws/chat Bearer $S" \
	"$(lab_jsonl "$LAB_WSLOG" '" ".join([d["path"]] + [v for k, v in d["headers"] if k.lower() == "authorization"]) if d["event"] == "request" else None')" \
	"the handshake and its Authorization as the origin got them"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
lab_stop_sluice
assert_eq "1|/ws/chat|Authorization|websocket|h2" \
	"$(lab_audit_sql "SELECT rule_id, path, injected, upgrade, client_proto FROM requests")" \
	"audit row (rule|path|injected|upgrade|client_proto)"
lab_assert_no_secret "$S"
