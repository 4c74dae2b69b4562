#!/bin/bash
# audit.db renamed while traffic flows (log rotation): sluice opens a new
# file at the configured path within 5 s, and every request has a row in
# one of the two files.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_load 8 5 >"$LAB_DIR/load.out" &
load=$!
sleep 2
mv "$LAB_DIR/audit.db" "$LAB_DIR/audit.db.1" || fail "rename"
ms=$(lab_poll 5000 test -f "$LAB_DIR/audit.db") || fail "no new audit.db 5 s after the rename"
lab_log "new audit.db after $ms ms"
wait "$load" || fail "the load generator failed"
read -r sent conns errs <"$LAB_DIR/load.out"
assert_eq 0 "$errs" "requests without a response"
lab_stop_sluice

old=$(sqlite3 "$LAB_DIR/audit.db.1" "SELECT count(*) FROM requests")
new=$(lab_audit_sql "SELECT count(*) FROM requests")
lab_log "sent $sent requests; $old rows in audit.db.1, $new in audit.db"
[ "$new" -gt 0 ] || fail "nothing written to the new file"
assert_eq "$sent" "$((old + new))" "rows in the two files"
assert_eq 1 "$(grep -c 'event=audit_file_moved ' "$LAB_DIR/sluice.log")" \
	"log lines about the new file"
