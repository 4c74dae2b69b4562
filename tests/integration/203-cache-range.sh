#!/bin/bash
# Response cache, byte ranges (RFC 9110, 14): a Range request for a stored
# 200 is answered from the cache with 206 and Content-Range: one range,
# an open range and a suffix; If-Range with the strong ETag or the
# Last-Modified date keeps the Range, another validator gets the whole
# 200; a range past the end gets 416 with "Content-Range: bytes */LEN";
# several ranges get the whole 200.  The upstream sees only the first GET.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/range?cc=max-age%3D60&etag=r1&lm=3600&size=1000'
u="https://api.test$t"
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
len=$(stat -c %s "$LAB_DIR/a.body")
assert_eq 1000 "$len" "length of the body"
lm=$(lab_hval a Last-Modified)

check_part() {	# NAME FIRST LAST
	assert_eq "bytes $2-$3/1000" "$(lab_hval "$1" Content-Range)" "Content-Range of $1"
	assert_eq $(($3 - $2 + 1)) "$(lab_hval "$1" Content-Length)" "Content-Length of $1"
	cmp -s "$LAB_DIR/$1.body" <(tail -c +$(($2 + 1)) "$LAB_DIR/a.body" | head -c $(($3 - $2 + 1))) ||
		fail "the bytes of $1 are not bytes $2-$3 of the body"
	lab_assert_cs "$1" "sluice; hit" "$1"
}
assert_eq 206 "$(lab_get b -H 'Range: bytes=10-19' "$u")" "Range: bytes=10-19"
check_part b 10 19
assert_eq 206 "$(lab_get c -H 'Range: bytes=990-' "$u")" "Range: bytes=990-"
check_part c 990 999
assert_eq 206 "$(lab_get d -H 'Range: bytes=-5' "$u")" "Range: bytes=-5"
check_part d 995 999
assert_eq 206 "$(lab_get e -H 'Range: bytes=0-3' -H 'If-Range: "r1"' "$u")" "If-Range with the ETag"
check_part e 0 3
assert_eq 206 "$(lab_get f -H 'Range: bytes=0-3' -H "If-Range: $lm" "$u")" "If-Range with the date"
check_part f 0 3
assert_eq 200 "$(lab_get g -H 'Range: bytes=0-3' -H 'If-Range: "old"' "$u")" "If-Range with another ETag"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/g.body" || fail "If-Range with another ETag: not the whole body"
assert_eq 416 "$(lab_get h -H 'Range: bytes=1000-' "$u")" "Range past the end"
assert_eq "bytes */1000" "$(lab_hval h Content-Range)" "Content-Range of the 416"
assert_eq 200 "$(lab_get i -H 'Range: bytes=0-1,5-6' "$u")" "two ranges"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/i.body" || fail "two ranges: not the whole body"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got"
assert_eq "cached|206|10" "$(lab_audit_wait 9 >/dev/null; lab_audit_sql "SELECT decision, status, resp_bytes FROM requests ORDER BY id LIMIT 1 OFFSET 1")" \
	"audit row of the first 206 (decision|status|bytes)"
lab_stop_sluice
