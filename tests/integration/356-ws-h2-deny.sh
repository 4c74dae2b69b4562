#!/bin/bash
# An extended CONNECT is matched like a GET of its :path: a rule denying the
# path answers 403 on that stream, and a WebSocket on another stream of the
# same connection goes on; each stream has its audit row.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_rules_up "
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 1, 'api.test', 'GET', '/ws/private*', 'deny'),
		(2, 2, 'api.test', 'GET', '/ws*', 'allow');"
lab_require_h2

out=$(lab_ws --h2 --path /ws/public --path /ws/private one two)
assert_eq '/ws/public 200 ["one", "two"]
/ws/private 403 []' \
	"$(while read -r l; do lab_json "$l" '"%s %d %s" % (d["path"], d["status"], json.dumps(d["echoes"]))'; done <<<"$out")" \
	"each stream (path, status, echoes)"
assert_contains "$(sed -n 2p <<<"$out")" denied "the 403's body"
assert_eq "/ws/public" "$(lab_jsonl "$LAB_WSLOG" 'd.get("path")')" "what the origin got"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "/ws/private|403|denied|1|NULL
/ws/public|200|forwarded|2|'websocket'" \
	"$(lab_audit_sql "SELECT path, status, decision, rule_id, quote(upgrade) FROM requests ORDER BY path")" \
	"audit rows (path|status|decision|rule|upgrade)"
lab_stop_sluice
