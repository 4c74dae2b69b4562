#!/bin/bash
# A streaming response that pauses longer than --stream-idle-timeout is
# aborted after that long (not after --upstream-timeout): the client sees
# its connection reset, and the row is audited as an error that says why.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 1 --stream-idle-timeout 3

start=$(date +%s%N)
lab_curl -o "$LAB_DIR/body" https://api.test/pause/8 2>"$LAB_DIR/err" &&
	fail "curl succeeded for a stream idle longer than --stream-idle-timeout"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 2500 ] && [ "$ms" -lt 6000 ] || fail "the stream ended after ${ms} ms, expected about 3000"
assert_eq "first" "$(cat "$LAB_DIR/body")" "what the client got before the pause"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|error|stream idle for 3 s" \
	"$(lab_audit_sql "SELECT status, decision, error FROM requests")" "audit row"
lab_stop_sluice
