#!/bin/bash
# Over HTTP/2 a cache hit is a hit: the first GET goes to the upstream, the
# second is answered from the cache on its stream with the same body and
# "Cache-Status: sluice; hit", and the upstream sees one request.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/hit?cc=max-age%3D60&etag=h2'
assert_eq 200 "$(lab_get a --http2 "https://api.test$t")" "status of the first GET"
lab_assert_cs a "sluice; fwd=miss" "first GET"
assert_eq 200 "$(lab_get b --http2 "https://api.test$t")" "status of the second GET"
lab_assert_cs b "sluice; hit" "second GET"
assert_eq "HTTP/2 200" "$(head -n 1 "$LAB_DIR/b.head" | tr -d '\r' | sed 's/ *$//')" \
	"status line of the hit"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/b.body" || fail "the cached body differs from the original"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after two GETs"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "forwarded|200;cached|200" \
	"$(lab_audit_sql "SELECT group_concat(decision || '|' || status, ';') FROM (SELECT * FROM requests ORDER BY id)")" \
	"audit rows (decision|status)"
lab_stop_sluice
