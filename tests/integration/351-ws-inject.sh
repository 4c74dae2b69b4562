#!/bin/bash
# A credential a rule injects on a WebSocket upgrade request reaches the
# origin with the handshake, the WebSocket works, and the secret is in
# neither the audit database (which names the injected field) nor the log.
. "$(dirname "$0")/../lab/lab.sh"
S=ws-SLUICETEST-351-s3cret
lab_wsecho_inject_up "$S"

lab_ws_injected "$S"
assert_eq "1|/ws/chat|Authorization|websocket" \
	"$(lab_audit_sql "SELECT rule_id, path, injected, upgrade FROM requests")" \
	"audit row (rule|path|injected|upgrade)"
lab_assert_no_secret "$S"
