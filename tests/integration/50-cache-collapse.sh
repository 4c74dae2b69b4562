#!/bin/bash
# Request collapsing: 50 identical GETs that miss at the same moment send
# one request upstream (which takes 1 s to answer); the other 49 wait for
# its response to reach the cache and are answered from it.  A response
# that may not be stored releases the waiters, which then fetch it
# themselves.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny --workers 2

url='https://api.test/cache/collapse?cc=max-age%3D60&delay=1'
out=$(lab_burst 50 "$url") || fail "burst of 50 GETs failed"
assert_eq "200 50" "$(printf '%s\n' "$out" | lab_codes)" "statuses of 50 identical GETs"
assert_eq 1 "$(lab_upstream_hits /cache/collapse)" "upstream requests for 50 identical misses"
assert_eq 49 "$(lab_audit_wait 50 >/dev/null; lab_audit_sql \
	"SELECT count(*) FROM requests WHERE decision = 'cached' AND path LIKE '/cache/collapse%'")" \
	"requests answered from the one response"

# Not storable: every waiter goes upstream itself once the leader is done.
url='https://api.test/cache/nostore?cc=no-store&delay=0.5'
out=$(lab_burst 5 "$url") || fail "burst of 5 no-store GETs failed"
assert_eq "200 5" "$(printf '%s\n' "$out" | lab_codes)" "statuses of 5 no-store GETs"
assert_eq 5 "$(lab_upstream_hits /cache/nostore)" "upstream requests for 5 no-store GETs"

lab_stop_sluice
