#!/bin/bash
# Response cache, stale-while-revalidate: the background revalidation is a
# request sluice sends upstream with the rule's credentials, so it gets an
# audit row of its own: decision 'revalidated', the client whose request
# started it, the rule, the path, the upstream's status (here a 304 to the
# entry's ETag), no error.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/swr-audit?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&etag=e1'
u="https://api.test$t"
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
sleep 2.5
assert_eq 200 "$(lab_get b "$u")" "status of the GET of the stale entry"
lab_assert_cs b "sluice; hit; fwd=stale" "GET of the stale entry"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'revalidated'")" "revalidation rows"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got"
assert_eq "cached|200|1
forwarded|200|1
revalidated|304|1" "$(lab_audit_sql "SELECT decision, status, rule_id FROM requests ORDER BY decision")" \
	"audit rows: decision, status, rule"
assert_eq "api.test|GET|$t||1" "$(lab_audit_sql "SELECT host, method, path, error,
	client = (SELECT client FROM requests WHERE decision = 'cached')
	FROM requests WHERE decision = 'revalidated'")" "the revalidation row"
lab_stop_sluice
