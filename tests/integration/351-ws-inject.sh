#!/bin/bash
# A credential a rule injects on a WebSocket upgrade request reaches the
# origin with the handshake, the WebSocket works, and the secret is in
# neither the audit database (which names the injected field) nor the log.
. "$(dirname "$0")/../lab/lab.sh"
S=ws-SLUICETEST-351-s3cret
lab_wsecho_inject_up "$S"

out=$(lab_ws --path /ws/chat ping)
assert_eq '101 ["ping"]' "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
	"status and echo with an injected bearer"
assert_eq "/ws/chat Bearer $S" \
	"$(lab_jsonl "$LAB_WSLOG" '" ".join([d["path"]] + [v for k, v in d["headers"] if k.lower() == "authorization"]) if d["event"] == "request" else None')" \
	"the handshake and its Authorization as the origin got them"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
lab_stop_sluice
assert_eq "1|/ws/chat|Authorization|websocket" \
	"$(lab_audit_sql "SELECT rule_id, path, injected, upgrade FROM requests")" \
	"audit row (rule|path|injected|upgrade)"
lab_assert_no_secret "$S"
