#!/bin/bash
# Response cache, stored as a message: a chunked response is stored with
# its body decoded and served from the cache with sluice's own framing
# (Content-Length, no Transfer-Encoding), the same bytes, and none of the
# upstream's hop-by-hop fields; a HEAD from that entry carries the length.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/unframed?cc=max-age%3D60&te=chunked&size=3000'
assert_eq 200 "$(lab_get a "https://api.test$t")" "status of the first GET"
assert_eq chunked "$(lab_hval a Transfer-Encoding)" "Transfer-Encoding of the miss"
assert_eq 200 "$(lab_get b "https://api.test$t")" "status of the second GET"
lab_assert_cs b "sluice; hit" "second GET"
assert_eq "" "$(lab_hval b Transfer-Encoding)" "Transfer-Encoding of the hit"
assert_eq 3000 "$(lab_hval b Content-Length)" "Content-Length of the hit"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/b.body" || fail "the cached body differs"
assert_eq 200 "$(lab_get h -I "https://api.test$t")" "status of a HEAD"
assert_eq 3000 "$(lab_hval h Content-Length)" "Content-Length of the HEAD"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got"
assert_eq "cached|3000" "$(lab_audit_wait 3 >/dev/null; lab_audit_sql "SELECT decision, resp_bytes FROM requests ORDER BY id LIMIT 1 OFFSET 1")" \
	"audit row of the hit (decision|bytes)"
lab_stop_sluice
