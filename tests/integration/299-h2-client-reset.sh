#!/bin/bash
# A stream the client resets before its response came (RST_STREAM CANCEL)
# is audited as a cut request, like an HTTP/1 request whose connection
# closed; the connection goes on and its next stream is answered.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# GET /slow/3 on stream 1, RST_STREAM(CANCEL) after 0.5 s, then GET
# /echo/after on stream 3: its head comes (0x88: ":status: 200").
out=$(lab_h2raw get:1:/slow/3 sleep:0.5 rst:1:8 get:3:/echo/after read:3) ||
	fail "the raw HTTP/2 client failed: $out"
assert_contains "$out" "headers 3 0x88" "frames the client read"
assert_not_contains "$out" "headers 1" "frames the client read"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "error||client reset the stream before the response ended (code 8)" \
	"$(lab_audit_sql "SELECT decision, status, error FROM requests WHERE path = '/slow/3'")" \
	"audit row of the reset stream (decision|status|error)"
assert_eq "forwarded|200" "$(lab_audit_sql "SELECT decision, status FROM requests WHERE path = '/echo/after'")" \
	"audit row of the next stream (decision|status)"
lab_stop_sluice
