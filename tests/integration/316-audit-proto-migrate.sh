#!/bin/bash
# An audit.db from before the protocol columns gains client_proto and
# upstream_proto: its old rows keep NULL there, new rows are filled.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
sqlite3 "$LAB_DIR/audit.db" "PRAGMA journal_mode=WAL;
CREATE TABLE requests (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, client TEXT NOT NULL,
	server TEXT NOT NULL, sni TEXT, host TEXT, method TEXT, path TEXT, status INTEGER,
	decision TEXT NOT NULL, rule_id INTEGER, injected TEXT, req_bytes INTEGER,
	resp_bytes INTEGER, duration_ms REAL, error TEXT, conn_id INTEGER, gateway TEXT,
	limit_source TEXT);
CREATE INDEX requests_ts ON requests (ts);
INSERT INTO requests (ts, client, server, host, path, decision)
	VALUES ('2026-01-01T00:00:00.000Z', '10.77.1.2:1', '10.77.2.2:443', 'old.test',
	'/old', 'forwarded');" >/dev/null || fail "the old file"

lab_start_sluice --default-policy allow
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status"
assert_eq 2 "$(lab_audit_wait 2)" "rows: the old one and the new one"
lab_stop_sluice
lab_log_wait 'audit_column_added.*column=requests\.upstream_proto' 1 >/dev/null ||
	fail "no audit_column_added event for requests.upstream_proto"
assert_eq "/old|NULL|NULL
/echo|'http/1.1'|'http/1.1'" \
	"$(lab_audit_sql "SELECT path, quote(client_proto), quote(upstream_proto)
		FROM requests ORDER BY id")" \
	"path|client_proto|upstream_proto: the old row and the new one"
