#!/bin/bash
# Response cache, revalidation: once an entry with a validator is stale
# (max-age=2, then 3 s later), the next GET is sent to the upstream with
# If-None-Match (for an ETag) or If-Modified-Since (for Last-Modified only);
# the upstream's 304 makes sluice answer 200 with the stored body and
# "Cache-Status: sluice; fwd=stale; fwd-status=304", audited as cached, and
# the entry is fresh again.  When the upstream answers the conditional
# request with a new 200 instead, the client gets that, and it replaces the
# entry.  A stale entry without a validator is fetched again
# unconditionally.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny


te='/cache/etag?cc=max-age%3D2&etag=abc'
tl='/cache/lm?cc=max-age%3D2&lm=3600'
ta='/cache/auto?cc=max-age%3D2&etag=auto'
tp='/cache/plain?cc=max-age%3D2'
for n in e l a p; do
	v=t$n
	t=${!v}
	assert_eq 200 "$(lab_get ${n}1 "https://api.test$t")" "status of the first GET $t"
done
assert_eq "" "$(lab_uhdr "$te" 1 If-None-Match)" "If-None-Match the upstream got first"
sleep 3.2

# ETag
# The GET right after the revalidation goes at once, before the checks
# (each a helper process) eat into max-age=2 on a busy machine.
assert_eq 200 "$(lab_get e2 "https://api.test$te")" "status of the GET of a stale entry (ETag)"
assert_eq 200 "$(lab_get e3 "https://api.test$te")" "status of the GET after the revalidation"
assert_eq 2 "$(lab_uhits "$te")" "requests the upstream got (ETag)"
assert_eq '"abc"' "$(lab_uhdr "$te" 2 If-None-Match)" "If-None-Match the upstream got when revalidating"
lab_assert_cs e2 "sluice; fwd=stale; fwd-status=304" "GET revalidated by a 304 (ETag)"
cmp -s "$LAB_DIR/e1.body" "$LAB_DIR/e2.body" ||
	fail "the body after a 304 differs from the stored one"
assert_eq 1 "$(lab_bn e2)" "upstream counter in the body after a 304"
assert_eq '"abc"' "$(lab_hval e2 ETag)" "ETag after a 304"
[[ $(lab_hval e2 Age) =~ ^[0-9]+$ ]] || fail "Age '$(lab_hval e2 Age)' after a 304 is not a number"
# fresh again
lab_assert_cs e3 "sluice; hit" "GET right after a revalidation"
assert_eq 1 "$(lab_bn e3)" "upstream counter after the revalidation"
assert_eq 2 "$(lab_uhits "$te")" "requests the upstream got (ETag, fresh again)"

# Last-Modified only
assert_eq 200 "$(lab_get l2 "https://api.test$tl")" "status of the GET of a stale entry (Last-Modified)"
assert_eq 2 "$(lab_uhits "$tl")" "requests the upstream got (Last-Modified)"
assert_eq "$(lab_hval l1 Last-Modified)" "$(lab_uhdr "$tl" 2 If-Modified-Since)" \
	"If-Modified-Since the upstream got when revalidating"
lab_assert_cs l2 "sluice; fwd=stale; fwd-status=304" "GET revalidated by a 304 (Last-Modified)"
assert_eq 1 "$(lab_bn l2)" "upstream counter in the body after a 304 (Last-Modified)"

# The upstream answers the conditional request with a new 200.
assert_eq 200 "$(lab_get a2 "https://api.test$ta")" "status of the GET of a stale entry (changed)"
assert_eq 200 "$(lab_get a3 "https://api.test$ta")" "status of the GET after the replacement"
assert_eq '"v1"' "$(lab_uhdr "$ta" 2 If-None-Match)" "If-None-Match the upstream got (changed)"
assert_eq 2 "$(lab_bn a2)" "upstream counter: the client gets the new answer"
assert_eq '"v2"' "$(lab_hval a2 ETag)" "ETag of the new answer"
v=$(lab_hval a2 Cache-Status)
case $v in "sluice; fwd="*) ;; *) fail "Cache-Status '$v' of an answer the upstream replaced" ;; esac
assert_not_contains "$v" "fwd-status=304" "Cache-Status of an answer the upstream replaced"
lab_assert_cs a3 "sluice; hit" "GET after the upstream replaced the entry"
assert_eq 2 "$(lab_bn a3)" "upstream counter: the new answer was stored"
assert_eq 2 "$(lab_uhits "$ta")" "requests the upstream got (changed)"

# No validator: an unconditional fetch.
assert_eq 200 "$(lab_get p2 "https://api.test$tp")" "status of the GET of a stale entry (no validator)"
assert_eq 2 "$(lab_bn p2)" "upstream counter (no validator)"
assert_eq "" "$(lab_uhdr "$tp" 2 If-None-Match)$(lab_uhdr "$tp" 2 If-Modified-Since)" \
	"conditional fields the upstream got for an entry without validators"

# The audit: first GETs forwarded; the 304s cached (status 200); the new 200 forwarded.
assert_eq 10 "$(lab_audit_wait 10)" "audit rows"
assert_eq "forwarded|200|$te
forwarded|200|$tl
forwarded|200|$ta
forwarded|200|$tp
cached|200|$te
cached|200|$te
cached|200|$tl
forwarded|200|$ta
cached|200|$ta
forwarded|200|$tp" \
	"$(lab_audit_sql "SELECT decision, status, path FROM requests ORDER BY id")" \
	"audit rows (decision|status|path)"
lab_stop_sluice
