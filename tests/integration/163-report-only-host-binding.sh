#!/bin/bash
# --report-only relaxes policy, not safety: on one connection (SNI
# api.test) a request whose Host names another server still gets 421 and
# reaches nobody, while the next request, which only the default policy
# would deny, is forwarded and audited 'would_deny'.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy deny --report-only

out=$(lab_raw 'GET /echo/misdirected HTTP/1.1\r\nHost: other.test\r\n\r\n') || fail "raw request failed"
assert_eq 421 "$(printf '%s\n' "$out" | head -n 1)" "status of a Host that is not the SNI"
out=$(lab_raw 'GET /echo/bound HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n') || fail "raw request failed"
assert_eq 200 "$(printf '%s\n' "$out" | head -n 1)" "status of a request only the default policy denies"
assert_eq 0 "$(lab_upstream_hits /echo/misdirected)" "misdirected requests the upstream got"
assert_eq 1 "$(lab_upstream_hits /echo/bound)" "bound requests the upstream got"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "/echo/misdirected|421|error
/echo/bound|200|would_deny" \
	"$(lab_audit_sql "SELECT path, status, decision FROM requests ORDER BY id")" \
	"audit rows (path|status|decision)"
lab_stop_sluice
