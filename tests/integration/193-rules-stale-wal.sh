#!/bin/bash
# Installing over a gateway database in WAL mode whose -wal still holds
# commits (sluice keeps the database open, so the last writer could not
# checkpoint it) does not let SQLite read that -wal over the new file:
# sluice and a fresh sqlite3 both see the pushed rules, and no -wal or
# -shm is left next to the new file.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

GW=$LAB_DIR/rules.db
lab_rules_sql "PRAGMA journal_mode = WAL" >/dev/null || fail "WAL mode"
lab_start_sluice --default-policy deny
lab_rules_sql "INSERT INTO rules (id, host, path, action) VALUES
	(1, 'api.test', '/echo', 'allow'),
	(2, 'api.test', '/echo/old', 'allow')" || fail "writing the gateway's rules"
[ "$(stat -c %s "$GW-wal")" -gt 0 ] || fail "the commit did not stay in $GW-wal"
lab_log_wait 'event=rules_loaded rules=2 ' >/dev/null || fail "sluice did not load the local rules"
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo)" "before the push"

lab_master_sql "INSERT INTO rules (id, host, path, action) VALUES
	(1, 'api.test', '/echo', 'deny')" || fail "writing the master"
out=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW") || fail "push: $out"
id=$(printf '%s\n' "$out" | awk '/^snapshot/ { print $2 }')

lab_log_wait 'event=rules_loaded rules=1 ' 3 >/dev/null || fail "sluice did not load the pushed rules: $(tail -3 "$LAB_DIR/sluice.log")"
assert_eq 403 "$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo)" "after the push"
assert_eq "1|deny" "$(sqlite3 "$GW" 'SELECT group_concat(id), group_concat(action) FROM rules')" \
	"what a fresh sqlite3 reads at $GW"
[ -e "$GW-wal" ] && fail "a -wal is next to the new database"
[ -e "$GW-shm" ] && fail "a -shm is next to the new database"
assert_contains "$(lab_sluice_rules status "$GW")" "id=$id " "status of the gateway"
