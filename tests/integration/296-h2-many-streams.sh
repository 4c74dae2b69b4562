#!/bin/bash
# Fifty concurrent streams on one HTTP/2 connection (nghttp -m 50): every
# one is forwarded and answered 200, and audited as its own request.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v nghttp >/dev/null || fail "no nghttp (Debian's nghttp2-client)"
lab_up
lab_start_sluice --default-policy allow

lab_in_c nghttp -n -s -m 50 https://api.test/echo/many >"$LAB_DIR/nghttp.out" 2>&1 ||
	fail "nghttp failed: $(tail -n 5 "$LAB_DIR/nghttp.out")"
assert_eq 50 "$(grep -c ' 200 ' "$LAB_DIR/nghttp.out")" \
	"streams answered 200 in nghttp's statistics"
assert_eq 50 "$(lab_uhits /echo/many)" "requests the upstream got"

assert_eq 50 "$(lab_audit_wait 50 "status = 200 AND decision = 'forwarded'")" "audit rows"
assert_eq 1 "$(lab_audit_sql "SELECT count(DISTINCT conn_id) FROM requests")" \
	"connections the audit rows name"
lab_stop_sluice
