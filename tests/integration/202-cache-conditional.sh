#!/bin/bash
# Response cache, conditional requests on a fresh hit (RFC 9110, 13.1 and
# 15.4.5; RFC 9111, 4.3.2): a matching If-None-Match (weak comparison, or
# *) gets a 304 from the cache, carrying ETag, Cache-Control, Last-Modified
# and Date but no body; so does an If-Modified-Since not before
# Last-Modified when there is no If-None-Match.  A non-matching condition
# gets the stored 200.  The upstream sees only the first GET.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/cond?cc=max-age%3D60&etag=W/%22c1%22&lm=3600'
u="https://api.test$t"
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
lm=$(lab_hval a Last-Modified)
[ -n "$lm" ] || fail "no Last-Modified in the first answer"

assert_eq 304 "$(lab_get b -H 'If-None-Match: "c1"' "$u")" "If-None-Match with the tag"
lab_assert_cs b "sluice; hit" "304 from the cache"
assert_eq 'W/"c1"' "$(lab_hval b ETag)" "ETag of the 304"
assert_eq "max-age=60" "$(lab_hval b Cache-Control)" "Cache-Control of the 304"
assert_eq "$lm" "$(lab_hval b Last-Modified)" "Last-Modified of the 304"
[ -n "$(lab_hval b Date)" ] || fail "no Date in the 304"
assert_eq "" "$(lab_hval b Content-Type)" "Content-Type of the 304"
[ -s "$LAB_DIR/b.body" ] && fail "the 304 has a body"

assert_eq 304 "$(lab_get c -H 'If-None-Match: "x", *' "$u")" "If-None-Match: *"
assert_eq 200 "$(lab_get d -H 'If-None-Match: "other"' "$u")" "If-None-Match with another tag"
lab_assert_cs d "sluice; hit" "200 from the cache for another tag"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/d.body" || fail "the body for another tag differs"
assert_eq 304 "$(lab_get e -H "If-Modified-Since: $lm" "$u")" "If-Modified-Since: Last-Modified"
assert_eq 200 "$(lab_get f -H 'If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT' "$u")" \
	"If-Modified-Since before Last-Modified"
assert_eq 200 "$(lab_get g -H 'If-None-Match: "other"' -H "If-Modified-Since: $lm" "$u")" \
	"If-Modified-Since ignored with a failing If-None-Match"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got"

assert_eq 7 "$(lab_audit_wait 7)" "audit rows"
assert_eq "forwarded|200
cached|304
cached|304
cached|200
cached|304
cached|200
cached|200" "$(lab_audit_sql "SELECT decision, status FROM requests ORDER BY id")" \
	"audit rows (decision|status)"
lab_stop_sluice
