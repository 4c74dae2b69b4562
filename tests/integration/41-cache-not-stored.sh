#!/bin/bash
# Response cache, what is never stored: responses with Cache-Control
# no-store or private (two GETs, two upstream requests, each a miss); a
# response to a request carrying the client's own Authorization (RFC 9111,
# 3.5); POST responses (never served from the cache, not even to a POST).
# A successful POST, PUT, PATCH or DELETE to a URL drops its entry: the next
# GET goes to the upstream again (and is stored again); entries for other
# URLs stay.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

twice() {	# twice TARGET WHAT [CURL-ARGS...]: two GETs, both to the upstream
	local t=$1 what=$2 i
	shift 2
	for i in 1 2; do
		assert_eq 200 "$(lab_get r$i "$@" "https://api.test$t")" "status of GET $i ($what)"
		assert_eq "$i" "$(lab_bn r$i)" "upstream counter in answer $i ($what)"
	done
	lab_assert_cs r2 "sluice; fwd=miss" "second GET ($what)"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two GETs ($what)"
}
twice '/cache/ns?cc=no-store' "no-store"
twice '/cache/ns2?cc=max-age%3D60,%20no-store' "max-age=60, no-store"
twice '/cache/priv?cc=private' "private"
twice '/cache/priv2?cc=private,%20max-age%3D60' "private, max-age=60"
twice '/cache/auth?cc=max-age%3D60' "the client's own Authorization" -H 'Authorization: Bearer client-own'

# POST is not answered from the cache.
t='/cache/post?cc=max-age%3D60'
for i in 1 2; do
	assert_eq 200 "$(lab_get p$i -d "x$i" "https://api.test$t")" "status of POST $i"
	assert_eq "$i" "$(lab_bn p$i)" "upstream counter in the answer to POST $i"
done
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two POSTs"
# ... nor is its response served to a GET.
assert_eq 200 "$(lab_get g "https://api.test$t")" "status of a GET after two POSTs"
assert_eq 3 "$(lab_bn g)" "upstream counter in the answer to a GET after POSTs"

# Invalidation by each unsafe method.
keep='/cache/keep?cc=max-age%3D60'
assert_eq 200 "$(lab_get k "https://api.test$keep")" "status of GET $keep"
for m in POST PUT PATCH DELETE; do
	t="/cache/inv-$m?cc=max-age%3D60"
	assert_eq 200 "$(lab_get i1 "https://api.test$t")" "status of the first GET ($m)"
	assert_eq 200 "$(lab_get i2 "https://api.test$t")" "status of the second GET ($m)"
	lab_assert_cs i2 "sluice; hit" "second GET before the $m"
	assert_eq 1 "$(lab_bn i2)" "upstream counter in the second GET before the $m"
	args=(-X "$m")
	[ "$m" = DELETE ] || args+=(-d body)
	assert_eq 200 "$(lab_get u "${args[@]}" "https://api.test$t")" "status of the $m"
	assert_eq 2 "$(lab_bn u)" "upstream counter in the answer to the $m"
	assert_eq 200 "$(lab_get i3 "https://api.test$t")" "status of the GET after the $m"
	lab_assert_cs i3 "sluice; fwd=miss" "GET after the $m"
	assert_eq 3 "$(lab_bn i3)" "upstream counter in the GET after the $m"
	assert_eq 200 "$(lab_get i4 "https://api.test$t")" "status of the second GET after the $m"
	lab_assert_cs i4 "sluice; hit" "second GET after the $m (stored again)"
	assert_eq 3 "$(lab_bn i4)" "upstream counter in the second GET after the $m"
	assert_eq 3 "$(lab_uhits "$t")" "requests the upstream got ($m)"
done
assert_eq 200 "$(lab_get k2 "https://api.test$keep")" "status of GET $keep after the others' invalidations"
lab_assert_cs k2 "sluice; hit" "GET of a URL nobody invalidated"
assert_eq 1 "$(lab_uhits "$keep")" "requests the upstream got for a URL nobody invalidated"
lab_stop_sluice
