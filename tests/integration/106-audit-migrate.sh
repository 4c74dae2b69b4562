#!/bin/bash
# An audit.db written by the previous version (requests without conn_id, no
# connections, gaps or views) keeps its rows and gains what is new.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
sqlite3 "$LAB_DIR/audit.db" "PRAGMA journal_mode=WAL;
CREATE TABLE requests (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, client TEXT NOT NULL,
	server TEXT NOT NULL, sni TEXT, host TEXT, method TEXT, path TEXT, status INTEGER,
	decision TEXT NOT NULL, rule_id INTEGER, injected TEXT, req_bytes INTEGER,
	resp_bytes INTEGER, duration_ms REAL, error TEXT);
CREATE INDEX requests_ts ON requests (ts);
INSERT INTO requests (ts, client, server, host, decision)
	VALUES ('2026-01-01T00:00:00.000Z', '10.77.1.2:1', '10.77.2.2:443', 'old.test', 'denied');" \
	>/dev/null || fail "the old file"

lab_start_sluice --default-policy deny
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 403 "$code" "status"
assert_eq 2 "$(lab_audit_wait 2)" "rows: the old one and the new one"
lab_stop_sluice
assert_eq "old.test|api.test|1" "$(lab_audit_sql "SELECT
	(SELECT host FROM requests WHERE conn_id IS NULL),
	(SELECT r.host FROM requests r JOIN connections c ON c.id = r.conn_id),
	(SELECT count(*) FROM denied_recent)")" "old row kept, new row joined, views"
