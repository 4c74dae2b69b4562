#!/bin/bash
# A response whose body ends with the upstream's close (no length) reaches
# an HTTP/2 client whole, and its stream ends (END_STREAM) when the
# upstream closes: the client does not wait for more.  (The WebSocket
# streams of RFC 8441 end the same way.)
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
lab_require_h2
n=300000

out=$(LAB_CURL_TIMEOUT=10 lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	"https://api.test/until-close/$n?cut=clean&seed=7" 2>&1) ||
	fail "curl failed for a close-delimited response over HTTP/2: $out"
assert_eq "200 2" "$out" "status and HTTP version"
lab_gen "$n" 7 >"$LAB_DIR/want"
cmp -s "$LAB_DIR/want" "$LAB_DIR/body" || fail "the body differs from what the upstream sent"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|$n|NULL" "$(lab_audit_sql "SELECT status, resp_bytes, quote(error) FROM requests")" \
	"audit row (status|resp_bytes|error)"
lab_stop_sluice
