#!/bin/bash
# Response cache, stale-while-revalidate (RFC 5861, 3): once an entry with
# max-age=8, stale-while-revalidate=60 is stale, GETs are answered from it
# at once ("Cache-Status: sluice; hit; fwd=stale", well under the
# upstream's 1.5 s delay) while one background request revalidates it:
# two such GETs make one upstream request, not two.  When that request
# is done, the next GET is a fresh hit on the new response.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/swr?cc=max-age%3D8%2C%20stale-while-revalidate%3D60&delay=1.5'
u="https://api.test$t"
timed_get() {	# NAME: prints "STATUS SECONDS"
	lab_curl -D "$LAB_DIR/$1.head" -o "$LAB_DIR/$1.body" -w '%{http_code} %{time_total}' "$u" ||
		fail "curl $1 failed"
}
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
sleep 7.5
read -r s1 t1 <<<"$(timed_get b)"
read -r s2 t2 <<<"$(timed_get c)"
assert_eq "200 200" "$s1 $s2" "status of two GETs of the stale entry"
for n in b c; do
	lab_assert_cs $n "sluice; hit; fwd=stale" "GET $n of the stale entry"
	assert_eq 1 "$(lab_bn $n)" "upstream counter in stale answer $n"
done
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(a < 1.0 && b < 1.0) }' ||
	fail "the stale answers took $t1 s and $t2 s: the client waited for the revalidation"
sleep 2.5
assert_eq 200 "$(lab_get d "$u")" "status of the GET after the revalidation"
assert_eq "sluice; hit" "$(lab_hval d Cache-Status)" "Cache-Status of the GET after the revalidation"
assert_eq 2 "$(lab_bn d)" "upstream counter after the revalidation"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got: one background revalidation"
lab_stop_sluice
