#!/bin/bash
# Response cache and rate limits: a fresh hit spends no token (limits
# protect the upstream's quota).  Under a rule allowing 2 requests per
# hour (burst 2) with a cache policy, one miss and then five hits all get
# 200; two more misses use the second token and then get 429.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up "
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst) VALUES (1, 2, 3600, 2);"
lab_start_sluice --default-policy deny

t='/cache/tok?cc=max-age%3D60'
assert_eq 200 "$(lab_get a "https://api.test$t")" "status of the miss"
for i in 1 2 3 4 5; do
	assert_eq 200 "$(lab_get h$i "https://api.test$t")" "status of hit $i"
	lab_assert_cs h$i "sluice; hit" "hit $i"
done
assert_eq 200 "$(lab_get m1 "https://api.test/cache/tok2")" "status of a second miss (last token)"
assert_eq 429 "$(lab_get m2 "https://api.test/cache/tok3")" "status of a third miss (no token left)"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for the cached target"
lab_stop_sluice
