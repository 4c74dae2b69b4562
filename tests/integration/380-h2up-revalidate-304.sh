#!/bin/bash
# Revalidation over an HTTP/2 upstream leg: against an origin that speaks
# only h2 (h2cache.py), a stale entry with an ETag (max-age=1, then 2 s
# later) is revalidated on a stream of the pooled h2 connection with
# If-None-Match; the origin's 304 makes sluice answer 200 with the stored
# body and "Cache-Status: sluice; fwd=stale; fwd-status=304", audited as
# cached with upstream_proto h2, as over HTTP/1.1 (43).
. "$(dirname "$0")/../lab/lab.sh"
lab_h2cache_up 50380

t='/cache/etag?cc=max-age%3D1&etag=abc'
lab_get_stale "$t" 2.2
lab_assert_cs a "sluice; fwd=miss" "first GET"
lab_assert_cs b "sluice; fwd=stale; fwd-status=304" "GET revalidated by a 304"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/b.body" || fail "the body after a 304 differs from the stored one"
assert_eq 1 "$(lab_bn b)" "upstream counter in the body after a 304"
assert_eq '"abc"' "$(lab_hval b ETag)" "ETag after a 304"
assert_eq 2 "$(lab_h2cache_req "$t" 0)" "requests the h2 origin got"
assert_eq '"abc"' "$(lab_h2cache_req "$t" 2 'h.get("if-none-match")')" \
	"If-None-Match the h2 origin got when revalidating"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "forwarded|200|'h2'
cached|200|'h2'" "$(lab_audit_sql "SELECT decision, status, quote(upstream_proto)
	FROM requests ORDER BY id")" "audit rows (decision|status|upstream_proto)"
lab_stop_sluice
