#!/bin/bash
# sluice-audit suggest, statement by statement, from would_deny rows written
# by hand: values are SQL-quoted (a host with a quote makes a valid
# statement, a host with a newline cannot break out of its comment line and
# gets no rule), many paths become their common directory's glob or any
# path, a CONNECT alone opens its host and port, rows a deny rule would
# have denied stay comments, other decisions and rows before --since are
# left out; --json carries the same statements; sqlite3 takes them all.
. "$(dirname "$0")/../lab/lab.sh"
[ -x "$SLUICE_AUDIT_TOOL" ] || fail "no sluice-audit at $SLUICE_AUDIT_TOOL"
LAB_DIR=$(mktemp -d /tmp/sluice-166.XXXXXX)
trap '[ "${LAB_KEEP:-}" = 1 ] || rm -rf "$LAB_DIR"' EXIT
A=$LAB_DIR/audit.db R=$LAB_DIR/rules.db

now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
sqlite3 "$A" "CREATE TABLE requests (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, client TEXT NOT NULL,
	server TEXT NOT NULL, sni TEXT, host TEXT, method TEXT, path TEXT, status INTEGER,
	decision TEXT NOT NULL, rule_id INTEGER, gateway TEXT);
INSERT INTO requests (ts, client, server, host, method, path, decision, rule_id) VALUES
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'it''s.test', 'GET', '/x?k=1', 'would_deny', NULL),
	('$now', '[fd00::2]:1000', '10.0.1.1:443', 'it''s.test', 'GET', '/x', 'would_deny', NULL),
	('$now', '10.0.0.3:1000', '10.0.1.1:443', 'evil' || char(10) || 'INSERT INTO rules (host) VALUES (''x'');',
		'GET', '/', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'deny.test', 'GET', '/admin', 'would_deny', 7),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'deny.test', 'GET', '/admin/x', 'would_deny', 9),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'many.test', 'GET', '/api/v2/a', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'many.test', 'GET', '/api/v2/b/1', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'many.test', 'GET', '/api/v2/b/2', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'many.test', 'GET', '/api/v2/c', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'many.test', 'DELETE', '/api/v2/a', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'root.test', 'GET', '/a', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'root.test', 'GET', '/b', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'root.test', 'GET', '/c', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'root.test', 'GET', '/d', 'would_deny', NULL),
	('$now', '10.0.0.2:1000', 'conn.test:8443', 'conn.test', 'CONNECT', NULL, 'would_deny', NULL),
	('$now', '10.0.0.2:1000', '10.0.1.1:443', 'denied.test', 'GET', '/', 'denied', NULL),
	('2020-01-01T00:00:00.000Z', '10.0.0.2:1000', '10.0.1.1:443', 'old.test', 'GET', '/', 'would_deny', NULL);" ||
	fail "making the audit file"

out=$("$SLUICE_AUDIT_TOOL" --db "$A" --since 1h suggest) || fail "suggest failed: $out"
printf '%s\n' "$out" >"$LAB_DIR/suggest.sql"
P="(SELECT COALESCE(max(priority), 100) FROM rules)"
assert_eq "INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'conn.test', 8443, NULL, NULL, 'allow', 'sluice-audit suggest: 1 would_deny request');
INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'it''s.test', 443, 'GET', '/x', 'allow', 'sluice-audit suggest: 2 would_deny requests');
INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'many.test', 443, 'DELETE', '/api/v2/a', 'allow', 'sluice-audit suggest: 1 would_deny request');
INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'many.test', 443, 'GET', '/api/v2/*', 'allow', 'sluice-audit suggest: 4 would_deny requests');
INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'root.test', 443, 'GET', NULL, 'allow', 'sluice-audit suggest: 4 would_deny requests');" \
	"$(grep -v '^--' "$LAB_DIR/suggest.sql" | grep -v '^$')" "the statements"
assert_contains "$out" "-- evil?INSERT INTO rules (host) VALUES ('x');:443: 1 would_deny request from 10.0.0.3
--   skipped: not a host a rule can name exactly" "the comment of a host with a newline"
assert_contains "$out" "-- deny.test:443: 2 would_deny requests from 10.0.0.2
--   2 of them matched a deny rule; not made into rules (rule 7, 9)" "the comment of rows a deny rule covers"
assert_contains "$out" "-- it's.test:443: 2 would_deny requests from 10.0.0.2, fd00::2" "the clients of it's.test"
assert_not_contains "$out" "old.test" "suggest --since 1h"
assert_not_contains "$out" "denied.test" "suggest (a denied row)"

json=$("$SLUICE_AUDIT_TOOL" --db "$A" --since 1h suggest --json) || fail "suggest --json failed: $json"
assert_eq "$(grep '^INSERT' "$LAB_DIR/suggest.sql")" \
	"$(lab_json "$json" '"\n".join(r["sql"] for g in d for r in g["rules"])')" "the statements in JSON"
assert_eq '[7, 9]' "$(lab_json "$json" '[g for g in d if g["host"] == "deny.test"][0]["deny_rules"]')" \
	"deny_rules of deny.test in JSON"
assert_eq '{"host": "conn.test", "port": 8443, "count": 1, "clients": ["10.0.0.2"], "deny_rules": [], "rules": [{"method": null, "path": null, "count": 1, "sql": "'"INSERT INTO rules (priority, host, port, method, path, action, note) VALUES ($P, 'conn.test', 8443, NULL, NULL, 'allow', 'sluice-audit suggest: 1 would_deny request');"'"}]}' \
	"$(lab_json "$json" 'd[0]')" "the conn.test object"

sqlite3 "$R" <"$LAB_SRCDIR/rules/schema.sql" || fail "making rules.db"
sqlite3 "$R" "INSERT INTO rules (priority, host, action) VALUES (300, 'deny.test', 'deny')" || fail "a rule"
sqlite3 -bail "$R" <"$LAB_DIR/suggest.sql" || fail "sqlite3 refused the suggestion"
assert_eq "deny.test|||300
conn.test|8443||300
it's.test|443|/x|300
many.test|443|/api/v2/a|300
many.test|443|/api/v2/*|300
root.test|443||300" "$(sqlite3 "$R" "SELECT host, port, path, priority FROM rules ORDER BY id")" \
	"the rules after the suggestion (all last)"

err=$("$SLUICE_AUDIT_TOOL" --db "$A" --decision denied suggest 2>&1)
assert_eq 2 "$?" "exit status of suggest --decision denied"
assert_contains "$err" "suggest reads would_deny rows" "error of suggest --decision denied"
