#!/bin/bash
# Response cache, any final status with explicit freshness is storable
# (RFC 9111, 3): a 302, 403 and 500 with s-maxage, a 201 and 307 with
# max-age, and a 503 with Expires are stored and served from the cache with
# their status and body; without explicit freshness the same statuses are
# not stored (heuristic freshness is for the statuses RFC 9110, 15.1 lists).
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

for c in 302:cc=s-maxage%3D60 403:cc=s-maxage%3D60 500:cc=s-maxage%3D60 \
    201:cc=max-age%3D60 307:cc=max-age%3D60 503:exp=60; do
	s=${c%%:*}
	t="/cache/x$s?status=$s&${c#*:}"
	for i in 1 2; do
		assert_eq "$s" "$(lab_get x$i "https://api.test$t")" "status of GET $i of a $s (${c#*:})"
	done
	lab_assert_cs x2 "sluice; hit" "second GET of a $s with ${c#*:}"
	cmp -s "$LAB_DIR/x1.body" "$LAB_DIR/x2.body" || fail "the cached body of a $s differs"
	assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for two GETs of a $s (stored)"
done
for s in 302 403 500; do
	t="/cache/h$s?status=$s"
	for i in 1 2; do
		assert_eq "$s" "$(lab_get x$i "https://api.test$t")" "status of GET $i of a $s (no freshness)"
	done
	lab_assert_cs x2 "sluice; fwd=miss" "second GET of a $s without freshness"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two GETs of a $s (not stored)"
done
assert_eq "cached|500" "$(lab_audit_wait 18 >/dev/null; lab_audit_sql "SELECT decision, status FROM requests WHERE path = '/cache/x500?status=500&cc=s-maxage%3D60' ORDER BY id DESC LIMIT 1")" \
	"audit row of the cached 500"
lab_stop_sluice
