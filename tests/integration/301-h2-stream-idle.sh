#!/bin/bash
# Over HTTP/2 a response that pauses longer than --stream-idle-timeout ends
# with RST_STREAM on its stream only, after that long: the next stream on
# the same connection is answered.  The row is audited as an error that
# says why.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 1 --stream-idle-timeout 2

# The pause is 8 s; the client reads stream 1 for 5 s.
out=$(lab_h2raw get:1:/pause/8 read:5 get:3:/echo/after read:3) ||
	fail "the raw HTTP/2 client failed: $out"
assert_eq "headers 1 0x88
data 1
rst 1 2
headers 3 0x88" "$(printf '%s\n' "$out" | grep -v '^data 3')" \
	"frames the client read (besides stream 3's data)"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "200|error|stream idle for 2 s" \
	"$(lab_audit_sql "SELECT status, decision, error FROM requests WHERE path = '/pause/8'")" \
	"audit row of the idle stream"
lab_stop_sluice
