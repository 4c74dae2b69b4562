#!/bin/bash
# A credential a rule injects reaches the origin with the WebSocket
# handshake an HTTP/2 client's extended CONNECT became, and is in neither
# the audit database (which names the injected field) nor the log.
. "$(dirname "$0")/../lab/lab.sh"
S=ws-SLUICETEST-357-s3cret
lab_wsecho_inject_up "$S"
lab_require_h2

lab_ws_injected "$S" --h2
assert_eq "1|/ws/chat|Authorization|websocket|h2" \
	"$(lab_audit_sql "SELECT rule_id, path, injected, upgrade, client_proto FROM requests")" \
	"audit row (rule|path|injected|upgrade|client_proto)"
lab_assert_no_secret "$S"
