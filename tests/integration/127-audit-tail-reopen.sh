#!/bin/bash
# sluice-audit tail keeps following when audit.db is replaced at its path
# (rotated away, then created again by sluice): the new file's rows show,
# from its first one, within 2 s.  Between polls it holds no file open, so
# it keeps no -wal or -shm alive after sluice closes the database.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
lab_curl -o /dev/null 'https://api.test/echo?before' || fail "curl failed"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"

[ -x "$SLUICE_AUDIT_TOOL" ] || fail "no sluice-audit at $SLUICE_AUDIT_TOOL"
"$SLUICE_AUDIT_TOOL" --db "$LAB_DIR/audit.db" tail >"$LAB_DIR/tail.out" 2>"$LAB_DIR/tail.err" &
tail_pid=$!
LAB_PIDS+=("$tail_pid")
lab_poll 2000 grep -q 'before$' "$LAB_DIR/tail.out" >/dev/null || fail "tail: $(cat "$LAB_DIR/tail.out")"

# Sampled ten times over a second, audit.db is open at most at a poll.
closed=0
for i in $(seq 10); do
	ls -l "/proc/$tail_pid/fd" 2>/dev/null | grep -q "$LAB_DIR/audit.db" || closed=$((closed + 1))
	sleep 0.1
done
[ "$closed" -ge 8 ] || fail "tail keeps audit.db open ($((10 - closed)) of 10 samples)"

lab_stop_sluice
# The -wal and -shm, if a reader kept them past sluice's close, belong to
# the old file and move with it (stale ones at the path break the next
# open there).
for f in audit.db audit.db-wal audit.db-shm; do
	[ ! -e "$LAB_DIR/$f" ] || mv "$LAB_DIR/$f" "$LAB_DIR/$f.1" || fail "rotating $f"
done
lab_start_sluice --default-policy allow
lab_curl -o /dev/null 'https://api.test/echo?after1' 'https://api.test/echo?after2' ||
	fail "curl failed"
ms=$(lab_poll 2000 grep -q 'after2$' "$LAB_DIR/tail.out") ||
	fail "tail did not follow the new audit.db within 2 s: $(cat "$LAB_DIR/tail.out")"
lab_log "rows of the new file shown after $ms ms"
assert_eq "/echo?before /echo?after1 /echo?after2" \
	"$(tail -n +2 "$LAB_DIR/tail.out" | awk '{ print $NF }' | xargs)" "paths tail printed"
# While audit.db was away: one line, at most.
[ "$(wc -l <"$LAB_DIR/tail.err")" -le 1 ] || fail "tail's stderr: $(cat "$LAB_DIR/tail.err")"
kill -TERM "$tail_pid"
wait "$tail_pid"
assert_eq 0 "$?" "tail's exit status after SIGTERM"
lab_stop_sluice
