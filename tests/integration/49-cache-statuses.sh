#!/bin/bash
# Response cache, statuses: 200, 203, 204, 300, 301, 404 and 410 responses
# (max-age=60) are stored and served with their status; others (201, 302,
# 307, 400, 403, 500, 503) are not without explicit freshness (the
# contract: any final status with max-age, s-maxage or Expires is stored,
# see 201-cache-explicit-statuses).  A cached 404 is audited as cached with
# status 404.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

for s in 200 203 204 300 301 404 410; do
	t="/cache/s$s?cc=max-age%3D60&status=$s"
	for i in 1 2; do
		assert_eq "$s" "$(lab_get x$i "https://api.test$t")" "status of GET $i of a $s"
	done
	lab_assert_cs x2 "sluice; hit" "second GET of a $s"
	cmp -s "$LAB_DIR/x1.body" "$LAB_DIR/x2.body" || fail "the cached body of a $s differs"
	assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for two GETs of a $s (stored)"
done
for s in 201 302 307 400 403 500 503; do
	t="/cache/s$s?status=$s"
	for i in 1 2; do
		assert_eq "$s" "$(lab_get x$i "https://api.test$t")" "status of GET $i of a $s"
	done
	lab_assert_cs x2 "sluice; fwd=miss" "second GET of a $s"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two GETs of a $s (not stored)"
done

t='/cache/s404?cc=max-age%3D60&status=404'
assert_eq 28 "$(lab_audit_wait 28)" "audit rows"
assert_eq "forwarded|404|1
cached|404|1" "$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE path = '$t' ORDER BY id")" \
	"audit rows for the 404 (decision|status|rule)"
assert_eq 7 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'cached'")" "cached audit rows"
lab_stop_sluice
