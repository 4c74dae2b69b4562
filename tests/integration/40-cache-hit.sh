#!/bin/bash
# Response cache, hit and miss: under a rule with a cache policy (ttl 60 s),
# the first GET goes to the upstream and carries "Cache-Status: sluice;
# fwd=miss"; the second is answered by sluice with the same status, fields
# and body, "Cache-Status: sluice; hit" and a numeric Age that grows; the
# upstream sees one request.  The audit says forwarded, then cached (with
# the status and the body's size).  A rule without a cache policy caches
# nothing.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up "
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');"
lab_start_sluice --default-policy deny

t='/cache/hit?cc=max-age%3D60&etag=h1'
assert_eq 200 "$(lab_get a "https://api.test$t")" "status of the first GET"
lab_assert_cs a "sluice; fwd=miss" "first GET"
assert_eq 1 "$(lab_bn a)" "upstream counter in the first answer"

assert_eq 200 "$(lab_get b "https://api.test$t")" "status of the second GET"
lab_assert_cs b "sluice; hit" "second GET"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/b.body" || fail "the cached body differs from the original"
for f in Content-Type Cache-Control ETag X-Upstream-Count Content-Length; do
	assert_eq "$(lab_hval a $f)" "$(lab_hval b $f)" "$f of the cached answer"
done
age=$(lab_hval b Age)
[[ $age =~ ^[0-9]+$ ]] || fail "Age '$age' of a hit is not a number of seconds"
[ "$age" -le 5 ] || fail "Age $age of an entry stored a moment ago"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after two GETs"

sleep 1.2
assert_eq 200 "$(lab_get c "https://api.test$t")" "status of the third GET"
lab_assert_cs c "sluice; hit" "third GET"
age3=$(lab_hval c Age)
[[ $age3 =~ ^[0-9]+$ ]] || fail "Age '$age3' of a hit is not a number of seconds"
[ "$age3" -ge 1 ] || fail "Age $age3 more than a second after the entry was stored"
assert_eq 1 "$(lab_bn c)" "upstream counter in the third answer"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after three GETs"

# No cache policy, no cache.
for i in 1 2; do
	assert_eq 200 "$(lab_get e$i https://api.test/echo/nocache)" "status of GET $i under a rule without a cache policy"
	assert_not_contains "$(lab_hval e$i Cache-Status)" hit "Cache-Status under a rule without a cache policy"
done
assert_eq 2 "$(lab_uhits /echo/nocache)" "requests the upstream got under a rule without a cache policy"

assert_eq 5 "$(lab_audit_wait 5)" "audit rows"
len=$(wc -c <"$LAB_DIR/a.body")
assert_eq "forwarded|200|1|GET|$t|$len
cached|200|1|GET|$t|$len
cached|200|1|GET|$t|$len
forwarded|200|2|GET|/echo/nocache
forwarded|200|2|GET|/echo/nocache" \
	"$(lab_audit_sql "SELECT decision, status, rule_id, method, path,
		CASE WHEN rule_id = 1 THEN resp_bytes END FROM requests ORDER BY id" | sed 's/|$//')" \
	"audit rows (decision|status|rule|method|path|resp_bytes)"
lab_stop_sluice
