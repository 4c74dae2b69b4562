#!/bin/bash
# A writer that holds audit.db longer than sluice keeps rows (5 s) costs
# rows, but never silently: the loss is a gaps row, and the requests rows
# plus the gaps counts add up to the requests the clients sent.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_load 12 5 >"$LAB_DIR/load.out" &
load=$!
sleep 2
# The sqlite3 CLI takes the write lock and sits on it for 8 s.
{ echo "BEGIN IMMEDIATE;"; sleep 8; echo "COMMIT;"; } |
	sqlite3 -cmd '.timeout 5000' "$LAB_DIR/audit.db" || fail "sqlite3 could not hold the lock"
wait "$load" || fail "the load generator failed"
read -r sent conns errs <"$LAB_DIR/load.out"
assert_eq 0 "$errs" "requests without a response"
lab_stop_sluice

gap=$(lab_audit_sql "SELECT coalesce(sum(count), 0) FROM gaps
	WHERE cause = 'database_locked' AND kind = 'request'")
[ "$gap" -gt 0 ] || fail "no gaps row for the rows lost to the lock"
rows=$(lab_audit_sql "SELECT count(*) FROM requests")
lab_log "sent $sent requests on $conns connections; $rows rows, $gap in gaps"
assert_eq "$sent" "$((rows + gap))" "request rows + gaps counts"
assert_eq "$conns" "$(lab_audit_sql "SELECT (SELECT count(*) FROM connections) +
	(SELECT coalesce(sum(count), 0) FROM gaps WHERE kind = 'connection')")" \
	"connection rows + gaps counts"
lab_log_wait 'event=audit_write_failed path=[^ ]+ records=[0-9]+ err="database is locked"' 1 >/dev/null ||
	fail "no warning about the lost rows"
