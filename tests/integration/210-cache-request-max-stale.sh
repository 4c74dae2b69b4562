#!/bin/bash
# Response cache, request max-stale (RFC 9111, 5.2.1.2): a client that
# sends Cache-Control: max-stale accepts a stale entry; with a value, one
# stale by no more than that many seconds.  An entry whose response said
# must-revalidate is never served stale, whatever the client accepts.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

plain='https://api.test/cache/ms?cc=max-age%3D1'
mustrv='https://api.test/cache/ms-mr?cc=max-age%3D1%2C%20must-revalidate'
assert_eq 200 "$(lab_get a "$plain")" "status of the first GET"
assert_eq 200 "$(lab_get b "$mustrv")" "status of the first must-revalidate GET"
sleep 3.5	# both stale by 2 s or more

assert_eq 200 "$(lab_get c -H 'Cache-Control: max-stale' "$plain")" "status with max-stale"
lab_assert_cs c "sluice; hit" "max-stale without a value"
assert_eq 1 "$(lab_bn c)" "upstream counter in the max-stale answer"

assert_eq 200 "$(lab_get d -H 'Cache-Control: max-stale=600' "$plain")" "status with max-stale=600"
lab_assert_cs d "sluice; hit" "max-stale=600"
assert_eq 1 "$(lab_bn d)" "upstream counter in the max-stale=600 answer"

assert_eq 200 "$(lab_get e -H 'Cache-Control: max-stale=1' "$plain")" "status with max-stale=1"
assert_eq 2 "$(lab_bn e)" "upstream counter: max-stale=1 does not cover 2 s of staleness"

assert_eq 200 "$(lab_get f -H 'Cache-Control: max-stale' "$mustrv")" "status of must-revalidate with max-stale"
assert_eq 2 "$(lab_bn f)" "upstream counter: a must-revalidate entry is not served stale"
lab_stop_sluice
