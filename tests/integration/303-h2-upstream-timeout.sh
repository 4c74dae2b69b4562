#!/bin/bash
# Over HTTP/2, an upstream slower than --upstream-timeout gets the stream
# sluice's 504, on its own timer (each stream has one).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --upstream-timeout 1

start=$(date +%s%N)
out=$(lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	https://api.test/slow/4) || fail "curl --http2 failed"
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "504 2" "$out" "status and HTTP version"
[ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] || fail "the 504 came after ${ms} ms, expected about 1000"
assert_eq gateway_timeout "$(lab_json "$(cat "$LAB_DIR/body")" 'd["error"]')" "error in the 504 body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "error|504|upstream timed out" \
	"$(lab_audit_sql "SELECT decision, status, error FROM requests")" "audit row (decision|status|error)"
lab_stop_sluice
