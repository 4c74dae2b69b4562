#!/bin/bash
# Response cache, Age (RFC 9111, 4.2.3 and 5.1): a response's own Age
# reaches the client on a miss, and a hit counts from it (Age: 30 stored,
# the hit says at least 30).  An Age that is not one non-negative integer
# (a list, a sign, a word) makes the response stale, not fresh: the next
# GET goes to the upstream again.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/age?cc=max-age%3D100&age=30'
assert_eq 200 "$(lab_get a1 "https://api.test$t")" "status of the first GET"
lab_assert_cs a1 "sluice; fwd=miss" "first GET"
assert_eq 30 "$(lab_hval a1 Age)" "Age of the miss: the upstream's"
assert_eq 200 "$(lab_get a2 "https://api.test$t")" "status of the second GET"
lab_assert_cs a2 "sluice; hit" "second GET"
age=$(lab_hval a2 Age)
[[ $age =~ ^[0-9]+$ ]] || fail "Age '$age' of the hit is not a number"
[ "$age" -ge 30 ] && [ "$age" -le 40 ] ||
	fail "Age $age of a hit on a response that came with Age: 30"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got (Age: 30)"

for v in '1,%202' '-5' 'ten'; do
	t="/cache/badage?cc=max-age%3D100&age=$v"
	assert_eq 200 "$(lab_get b1 "https://api.test$t")" "status of the first GET (Age: $v)"
	assert_eq 200 "$(lab_get b2 "https://api.test$t")" "status of the second GET (Age: $v)"
	assert_not_contains "$(lab_hval b2 Cache-Status)" "hit" "second GET with Age: $v"
	assert_eq 2 "$(lab_bn b2)" "upstream counter after two GETs (Age: $v)"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got (Age: $v)"
done
lab_stop_sluice
