#!/bin/bash
# Over HTTP/2, an upstream that closes mid-body (a close-delimited body cut
# without close_notify) ends that stream with RST_STREAM(INTERNAL_ERROR),
# never a clean end the client would take for the whole body; the next
# stream on the same connection is answered.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_h2raw 'get:1:/until-close/100000?cut=dirty' read:3 get:3:/echo/after read:3) ||
	fail "the raw HTTP/2 client failed: $out"
assert_eq "headers 1 0x88
rst 1 2
headers 3 0x88" "$(printf '%s\n' "$out" | grep -v '^data')" \
	"frames the client read (besides data)"
assert_not_contains "$out" "data 1 end" "frames the client read"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "error|upstream closed without close_notify; response truncated" \
	"$(lab_audit_sql "SELECT decision, error FROM requests WHERE path LIKE '/until-close/%'")" \
	"audit row of the cut stream (decision|error)"
lab_stop_sluice
