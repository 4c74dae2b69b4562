#!/bin/bash
# Revalidation over an HTTP/2 upstream leg, answered with a new 200: the
# h2-only origin (h2cache.py) closes its connection after each answer
# (GOAWAY), so the conditional request for the stale entry dials anew,
# offering h2, and goes as the new connection's first stream with
# If-None-Match.  The origin's ETag changed: the client gets the new 200
# ("Cache-Status: sluice; fwd=stale", forwarded over h2), and it replaces
# the entry: the next GET is a hit on it.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2cache_up 50381

t='/cache/auto?cc=max-age%3D2&etag=auto&goaway=1'
lab_get_stale "$t" 3.2
assert_eq 200 "$(lab_get c "https://api.test$t")" "status of the GET after the replacement"
assert_eq '"v1"' "$(lab_h2cache_req "$t" 2 'h.get("if-none-match")')" \
	"If-None-Match the h2 origin got when revalidating"
lab_assert_cs b "sluice; fwd=stale" "GET the origin answered with a new 200"
assert_not_contains "$(lab_hval b Cache-Status)" "fwd-status=304" "Cache-Status of the new 200"
assert_eq 2 "$(lab_bn b)" "upstream counter: the client gets the new answer"
assert_eq '"v2"' "$(lab_hval b ETag)" "ETag of the new answer"
lab_assert_cs c "sluice; hit" "GET after the origin replaced the entry"
assert_eq 2 "$(lab_bn c)" "upstream counter: the new answer was stored"
assert_eq 2 "$(lab_h2cache_req "$t" 0)" "requests the h2 origin got"
assert_eq 2 "$(lab_jsonl "$LAB_H2CACHE_LOG" 'd["conn"] if d["event"] == "conn" else None' | wc -l)" \
	"connections the h2 origin accepted"
assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
assert_eq "forwarded|200|'h2'
forwarded|200|'h2'
cached|200|NULL" "$(lab_audit_sql "SELECT decision, status, quote(upstream_proto)
	FROM requests ORDER BY id")" "audit rows (decision|status|upstream_proto)"
lab_stop_sluice
