#!/bin/bash
# sluice-audit tail: prints the last 10 rows in columns, like tail -f, then
# shows a new request's row within 2 s of its response, and exits 0 on
# SIGINT.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

urls=()
for i in $(seq 1 12); do
	urls+=(-o /dev/null "https://api.test/echo?n=$i")
done
lab_curl "${urls[@]}" || fail "curl failed"
assert_eq 12 "$(lab_audit_wait 12)" "audit rows"

[ -x "$SLUICE_AUDIT_TOOL" ] || fail "no sluice-audit at $SLUICE_AUDIT_TOOL"
"$SLUICE_AUDIT_TOOL" --db "$LAB_DIR/audit.db" tail >"$LAB_DIR/tail.out" 2>&1 &
tail_pid=$!
LAB_PIDS+=("$tail_pid")
lab_poll 2000 grep -q 'n=12$' "$LAB_DIR/tail.out" >/dev/null ||
	fail "tail did not print the last row: $(cat "$LAB_DIR/tail.out")"

# A header, then n=3 .. n=12 in order, each in aligned columns.
assert_eq "TS CLIENT DECISION STATUS RULE MS METHOD HOST PATH" \
	"$(head -n 1 "$LAB_DIR/tail.out" | tr -s ' ')" "tail's header"
assert_eq "$(seq 3 12 | sed 's/^/\/echo?n=/')" \
	"$(tail -n +2 "$LAB_DIR/tail.out" | awk '{ print $NF }')" "the paths tail printed first"
row=$(grep 'n=12$' "$LAB_DIR/tail.out")
assert_eq "$LAB_C4 forwarded 200 - GET api.test /echo?n=12" \
	"$(printf '%s\n' "$row" | awk '{ sub(/:[0-9]+$/, "", $2); print $2, $3, $4, $5, $7, $8, $9 }')" \
	"the last row (client decision status rule method host path)"
assert_eq 1 "$(awk '{ print index($0, "/echo") }' "$LAB_DIR/tail.out" | tail -n +2 | sort -u | wc -l)" \
	"paths in one column"

# A new request: its row within 2 s of the response.
lab_curl -o /dev/null https://api.test/status/201 || fail "curl failed"
ms=$(lab_poll 2000 grep -q '/status/201$' "$LAB_DIR/tail.out") ||
	fail "tail did not show the new row within 2 s: $(cat "$LAB_DIR/tail.out")"
lab_log "new row shown after $ms ms"
assert_contains "$(grep '/status/201$' "$LAB_DIR/tail.out")" " 201 " "the new row's status"
assert_eq 11 "$(tail -n +2 "$LAB_DIR/tail.out" | wc -l)" "rows printed (the last 10, then the new one, none twice)"

kill -INT "$tail_pid"
wait "$tail_pid"
assert_eq 0 "$?" "tail's exit status after SIGINT"
lab_stop_sluice
