#!/bin/bash
# An upstream slower than --upstream-timeout gets the client a 504 in time.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 2

code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/slow/1) || fail "curl failed"
assert_eq 200 "$code" "status of a response 1 s late (within the 2 s timeout)"

start=$(date +%s%N)
code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/slow/5) || fail "curl failed"
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 504 "$code" "status of a response 5 s late with --upstream-timeout 2"
[ "$ms" -ge 1500 ] && [ "$ms" -lt 4500 ] || fail "the 504 came after ${ms} ms, expected about 2000"
assert_not_contains "$(cat "$LAB_DIR/body")" conn_id "504 body"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "504" "$(lab_audit_sql "SELECT status FROM requests WHERE path = '/slow/5'")" \
	"audited status of the timed-out request"
lab_stop_sluice
