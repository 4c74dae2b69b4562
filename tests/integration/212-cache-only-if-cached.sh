#!/bin/bash
# Response cache, request only-if-cached (RFC 9111, 5.2.1.7): without a
# stored response sluice answers 504 itself and the upstream is not asked;
# with a fresh one it serves it.  The 504 keeps the connection, carries
# "Cache-Status: sluice; fwd=miss" and is audited as the cache's answer.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/oic?cc=max-age%3D60'
u="https://api.test$t"
out=$(lab_curl -H 'Cache-Control: only-if-cached' -w '%{http_code} %{num_connects}\n' \
	-o "$LAB_DIR/a.body" "$u" -o /dev/null "$u")
assert_eq "504 1
504 0" "$out" "two only-if-cached GETs of nothing stored: status, new connections"
assert_eq 0 "$(lab_uhits "$t")" "requests the upstream got for only-if-cached"
assert_contains "$(cat "$LAB_DIR/a.body")" '"not_cached"' "body of the 504"

assert_eq 200 "$(lab_get b "$u")" "status of a plain GET"
assert_eq 200 "$(lab_get c -H 'Cache-Control: only-if-cached' "$u")" "status of only-if-cached once stored"
lab_assert_cs c "sluice; hit" "only-if-cached once stored"
assert_eq 1 "$(lab_bn c)" "upstream counter in the cached answer"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got in all"

assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "504|cached
504|cached
200|forwarded
200|cached" "$(lab_audit_sql 'SELECT status, decision FROM requests ORDER BY id')" "audit rows"
lab_stop_sluice
