#!/bin/bash
# A credential a rule injects on a WebSocket upgrade request reaches the
# origin with the handshake, the WebSocket works, and the secret is in
# neither the audit database (which names the injected field) nor the log.
. "$(dirname "$0")/../lab/lab.sh"
S=ws-SLUICETEST-351-s3cret
lab_require_root
lab_require_sluice
lab_up
lab_start_wsecho
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok351', '$S');
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/ws*', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 'tok351');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --verbose --resolve "api.test:443:$LAB_U4:$LAB_WS_PORT"

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
lab_audit_sql .dump >"$LAB_DIR/dump.sql" || fail "dumping the audit database"
for f in "$LAB_DIR"/audit.db* "$LAB_DIR/dump.sql" "$LAB_DIR/sluice.log"; do
	[ -f "$f" ] || continue
	grep -a -q -F -- "$S" "$f" && fail "the secret is in ${f#"$LAB_DIR"/}"
done
exit 0
