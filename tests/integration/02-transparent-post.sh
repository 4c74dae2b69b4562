#!/bin/bash
# Request bodies reach the upstream intact, with Content-Length or chunked,
# and the audit counts the body bytes.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_gen 300000 post > "$LAB_DIR/req"
want=$(sha256sum < "$LAB_DIR/req" | cut -d' ' -f1)

body=$(lab_curl -H 'Content-Type: application/octet-stream' \
	--data-binary @"$LAB_DIR/req" https://api.test/echo) || fail "POST with Content-Length failed"
assert_eq POST "$(lab_json "$body" 'd["method"]')" "method the upstream saw"
assert_eq 300000 "$(lab_json "$body" 'd["body_len"]')" "body length the upstream saw"
assert_eq "$want" "$(lab_json "$body" 'd["body_sha256"]')" "sha256 of the body the upstream saw"

body=$(lab_curl -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream' \
	--data-binary @"$LAB_DIR/req" 'https://api.test/echo?chunked=1') || fail "chunked POST failed"
assert_eq 300000 "$(lab_json "$body" 'd["body_len"]')" "chunked body length the upstream saw"
assert_eq "$want" "$(lab_json "$body" 'd["body_sha256"]')" "sha256 of the chunked body"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "POST|200|300000|forwarded" \
	"$(lab_audit_sql "SELECT method, status, req_bytes, decision FROM requests WHERE path = '/echo'")" \
	"audit row of the Content-Length POST (method|status|req_bytes|decision)"
assert_eq "POST|200|300000|forwarded" \
	"$(lab_audit_sql "SELECT method, status, req_bytes, decision FROM requests WHERE path = '/echo?chunked=1'")" \
	"audit row of the chunked POST"

lab_stop_sluice
