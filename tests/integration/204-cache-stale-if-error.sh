#!/bin/bash
# Response cache, stale-if-error (RFC 5861, 4): a stale entry whose
# response said stale-if-error=60 is served (200, the stored body,
# "Cache-Status: sluice; fwd=stale...") when the upstream answers 503,
# when it closes the connection without an answer, and when it refuses
# the connection; audited as cached.  Without stale-if-error the client
# gets the upstream's 503.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

cc='cc=max-age%3D1%2C%20stale-if-error%3D60'
t5="/cache/sie5?$cc&then=503"
tc="/cache/siec?$cc&then=close"
tr="/cache/sier?$cc"
tn="/cache/sien?cc=max-age%3D1&then=503"
for t in "$t5" "$tc" "$tr" "$tn"; do
	assert_eq 200 "$(lab_get first "https://api.test$t")" "status of the first GET of $t"
done
sleep 2.2

assert_eq 200 "$(lab_get a "https://api.test$t5")" "stale GET, the upstream answers 503"
lab_assert_cs a "sluice; fwd=stale; fwd-status=503" "stale served for a 503"
assert_eq 1 "$(lab_bn a)" "upstream counter in the stale answer (503)"
assert_eq 2 "$(lab_uhits "$t5")" "requests the upstream got (503)"

assert_eq 200 "$(lab_get b "https://api.test$tc")" "stale GET, the upstream closes"
lab_assert_cs b "sluice; fwd=stale" "stale served when the upstream closes"
assert_eq 1 "$(lab_bn b)" "upstream counter in the stale answer (close)"

assert_eq 503 "$(lab_get n "https://api.test$tn")" "stale GET without stale-if-error"

lab_in_u iptables -I INPUT -p tcp --dport 443 -j REJECT --reject-with tcp-reset ||
	fail "cannot make the upstream refuse connections"
assert_eq 200 "$(lab_get c "https://api.test$tr")" "stale GET, the upstream refuses"
lab_in_u iptables -D INPUT -p tcp --dport 443 -j REJECT --reject-with tcp-reset
lab_assert_cs c "sluice; fwd=stale" "stale served when the upstream refuses"
assert_eq 1 "$(lab_bn c)" "upstream counter in the stale answer (refused)"

assert_eq 8 "$(lab_audit_wait 8)" "audit rows"
assert_eq "cached|200
cached|200
forwarded|503
cached|200" "$(lab_audit_sql "SELECT decision, status FROM requests ORDER BY id LIMIT 4 OFFSET 4")" \
	"audit rows of the stale GETs (decision|status)"
lab_stop_sluice
