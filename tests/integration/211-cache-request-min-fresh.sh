#!/bin/bash
# Response cache, request min-fresh (RFC 9111, 5.2.1.3): a client that
# sends Cache-Control: min-fresh=N is answered from the cache only when the
# entry stays fresh for at least N more seconds; otherwise sluice asks the
# upstream (and stores what it answers).
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

u='https://api.test/cache/mf?cc=max-age%3D100'
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
assert_eq 200 "$(lab_get b -H 'Cache-Control: min-fresh=50' "$u")" "status with min-fresh=50"
lab_assert_cs b "sluice; hit" "min-fresh=50 of a 100 s lifetime"
assert_eq 1 "$(lab_bn b)" "upstream counter with min-fresh=50"

assert_eq 200 "$(lab_get c -H 'Cache-Control: min-fresh=200' "$u")" "status with min-fresh=200"
assert_eq "sluice; fwd=miss" "$(lab_hval c Cache-Status)" "Cache-Status with min-fresh=200"
assert_eq 2 "$(lab_bn c)" "upstream counter: min-fresh=200 is more than the entry has"
assert_eq 2 "$(lab_uhits /cache/mf?cc=max-age%3D100)" "requests the upstream got"
lab_stop_sluice
