#!/bin/bash
# The cache keys on the normalised target: /cache/./k and /cache/x/../%6B
# are /cache/k, so they are hits on the entry /cache/k stored, and the
# upstream is asked once; a POST to another spelling of it drops that
# entry.  curl --path-as-is sends the dots as they are.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

q='?cc=max-age%3D60'
assert_eq 200 "$(lab_get a "https://api.test/cache/k$q")" "status of GET /cache/k"
lab_assert_cs a "sluice; fwd=miss" "GET /cache/k"
assert_eq 200 "$(lab_get b --path-as-is "https://api.test/cache/./k$q")" "status of GET /cache/./k"
lab_assert_cs b "sluice; hit" "GET /cache/./k"
assert_eq 200 "$(lab_get c --path-as-is "https://api.test/cache/x/../%6B$q")" "status of GET /cache/x/../%6B"
lab_assert_cs c "sluice; hit" "GET /cache/x/../%6B"
assert_eq 1 "$(lab_upstream_hits /cache/)" "requests the upstream got after three GETs"

assert_eq 200 "$(lab_get d --path-as-is -X POST "https://api.test/cache/./k$q")" "status of POST /cache/./k"
assert_eq 200 "$(lab_get e "https://api.test/cache/k$q")" "status of GET /cache/k after the POST"
lab_assert_cs e "sluice; fwd=miss" "GET /cache/k after a POST to /cache/./k"
assert_eq 3 "$(lab_uhits "/cache/k$q")" "requests the upstream got for /cache/k$q"
assert_eq 3 "$(lab_upstream_hits /cache/)" "requests the upstream got in all"
lab_stop_sluice
