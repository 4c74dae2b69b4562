#!/bin/bash
# The response cache in /metrics: a GET under a caching rule is a miss and
# stores one entry (its bytes counted); the same GET again is a hit; a
# stale entry revalidated with the upstream is a miss, not a hit; requests
# under a rule without a cache policy move neither.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up "
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');"
ADMIN=127.0.0.1:9172
lab_start_sluice --default-policy deny --admin "$ADMIN"

lab_metrics_mark "$ADMIN"
assert_eq 0 "$(lab_metric sluice_cache_entries)" "cache entries before any request"
assert_eq 0 "$(lab_metric sluice_cache_bytes)" "cache bytes before any request"
t='/cache/m?cc=max-age%3D60&etag=m1'
assert_eq 200 "$(lab_get a "https://api.test$t")" "status of the first GET"
lab_assert_cs a "sluice; fwd=miss" "first GET"
lab_metrics "$ADMIN"
assert_eq 1 "$(lab_metric_delta sluice_cache_misses_total)" "cache misses after the first GET"
assert_eq 0 "$(lab_metric_delta sluice_cache_hits_total)" "cache hits after the first GET"
assert_eq 1 "$(lab_metric sluice_cache_entries)" "cache entries after the first GET"
bytes=$(lab_metric sluice_cache_bytes)
size=$(stat -c %s "$LAB_DIR/a.body")
[ "$bytes" -gt "$size" ] || fail "cache bytes $bytes for an entry whose body alone is $size bytes"

N=3
for ((i = 0; i < N; i++)); do
	assert_eq 200 "$(lab_get b "https://api.test$t")" "status of hit $i"
	lab_assert_cs b "sluice; hit" "GET $i after the first"
done
lab_metrics "$ADMIN"
assert_eq "$N" "$(lab_metric_delta sluice_cache_hits_total)" "cache hits"
assert_eq "$N" "$(lab_metric_delta 'sluice_requests_total{decision="cached"}')" "requests answered from the cache"
assert_eq 1 "$(lab_metric_delta sluice_cache_misses_total)" "cache misses after the hits"
assert_eq "$bytes" "$(lab_metric sluice_cache_bytes)" "cache bytes after the hits"

# A stale entry (max-age 1) with a validator: revalidated, a miss.
s='/cache/s?cc=max-age%3D1&etag=s1'
assert_eq 200 "$(lab_get c "https://api.test$s")" "status of the first GET of a short-lived entry"
sleep 2.2
lab_metrics_mark "$ADMIN"
assert_eq 200 "$(lab_get d "https://api.test$s")" "status of the revalidated GET"
lab_assert_cs d "sluice; fwd=stale; fwd-status=304" "revalidated GET"
lab_metrics "$ADMIN"
assert_eq 1 "$(lab_metric_delta sluice_cache_misses_total)" "cache misses after a revalidation"
assert_eq 0 "$(lab_metric_delta sluice_cache_hits_total)" "cache hits after a revalidation"

# Rule 2 has no cache policy.
lab_metrics_mark "$ADMIN"
for i in 1 2; do
	assert_eq 200 "$(lab_get e "https://api.test/echo?cc=max-age%3D60")" "status under rule 2"
done
lab_metrics "$ADMIN"
assert_eq 0 "$(lab_metric_delta sluice_cache_misses_total)" "cache misses under a rule without a cache policy"
assert_eq 0 "$(lab_metric_delta sluice_cache_hits_total)" "cache hits under a rule without a cache policy"
assert_eq 2 "$(lab_metric sluice_cache_entries)" "cache entries at the end"
lab_stop_sluice
