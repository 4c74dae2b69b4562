#!/bin/bash
# stale-if-error over an HTTP/2 upstream leg: when the h2-only origin
# (h2cache.py) answers the revalidation of a stale entry (max-age=1,
# stale-if-error=60) with a 503, the client gets the stale entry with
# "Cache-Status: sluice; fwd=stale; fwd-status=503", as over HTTP/1.1
# (204): the 503 came over h2, so the origin got both requests.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2cache_up 50384

t='/cache/sie?cc=max-age%3D1%2C%20stale-if-error%3D60&etag=x&then=503'
lab_get_stale "$t" 2.2
lab_assert_cs b "sluice; fwd=stale; fwd-status=503" "stale entry served for the 503"
assert_eq 1 "$(lab_bn b)" "upstream counter in the stale answer"
assert_eq 2 "$(lab_h2cache_req "$t" 0)" "requests the h2 origin got"
lab_stop_sluice
