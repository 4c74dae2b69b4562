#!/bin/bash
# Under 20 parallel clients every request and every connection has its row,
# and the longest write transaction (logged at shutdown) stays short, so
# readers with sqlite3 are never kept waiting long.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

read -r sent conns errs <<<"$(lab_load 5 20)"
assert_eq 0 "$errs" "requests without a response"
lab_stop_sluice

assert_eq "$sent" "$(lab_audit_sql "SELECT count(*) FROM requests WHERE status = 200")" "request rows"
assert_eq "$conns" "$(lab_audit_sql "SELECT count(*) FROM connections")" "connection rows"
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE conn_id IS NULL
	OR conn_id NOT IN (SELECT id FROM connections)")" "requests without their connection"
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM gaps")" "gaps"
line=$(grep -E 'event=audit_closed longest_txn_ms=[0-9.]+' "$LAB_DIR/sluice.log") ||
	fail "no longest-transaction line in the log"
ms=$(sed -E 's/.*longest_txn_ms=([0-9.]+).*/\1/' <<<"$line")
lab_log "$sent requests on $conns connections in 5 s from 20 clients; longest write transaction $ms ms"
awk -v ms="$ms" 'BEGIN { exit !(ms < 1000) }' || fail "longest write transaction $ms ms"
