#!/bin/bash
# Keep-alive: two requests on one client connection travel over one
# upstream connection.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_curl -v -o "$LAB_DIR/body1" https://api.test/echo?n=1 \
	-o "$LAB_DIR/body2" https://api.test/echo?n=2 2>"$LAB_DIR/curl.err" ||
	fail "curl failed: $(tail -n 5 "$LAB_DIR/curl.err")"
assert_contains "$(cat "$LAB_DIR/curl.err")" "Re-using existing connection" \
	"curl's trace of the second request"
c1=$(lab_json "$(cat "$LAB_DIR/body1")" 'd["conn_id"]')
c2=$(lab_json "$(cat "$LAB_DIR/body2")" 'd["conn_id"]')
assert_eq "$c1" "$c2" "upstream connection of the second request (first was $c1)"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq 1 "$(lab_audit_sql 'SELECT count(DISTINCT client) FROM requests')" \
	"distinct client addresses in the audit (one connection)"

lab_stop_sluice
