#!/bin/bash
# Response cache, the client's request directives: "Cache-Control:
# no-cache" on a request for a fresh entry makes sluice consult the
# upstream (conditionally when the entry has a validator, and then a 304
# gets the client a 200 with the stored body; else a full fetch, which
# then replaces the entry); the client never gets a 304 it did not ask for.
# A request with "Cache-Control: no-store" goes to the upstream and its
# response is not stored.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny


# With a validator.
t='/cache/nc?cc=max-age%3D60&etag=nc1'
assert_eq 200 "$(lab_get v1 "https://api.test$t")" "status of the first GET (ETag)"
assert_eq 200 "$(lab_get v2 "https://api.test$t")" "status of the second GET (ETag)"
lab_assert_cs v2 "sluice; hit" "second GET (ETag)"
assert_eq 200 "$(lab_get v3 -H 'Cache-Control: no-cache' "https://api.test$t")" \
	"status of a no-cache GET of a fresh entry with an ETag"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got after a no-cache GET (ETag)"
assert_not_contains "$(lab_hval v3 Cache-Status)" "hit" "Cache-Status of a no-cache GET (ETag)"
if [ "$(lab_uhdr "$t" 2 If-None-Match)" = '"nc1"' ]; then
	# revalidated: the 304 is sluice's, the client gets the stored answer
	cmp -s "$LAB_DIR/v1.body" "$LAB_DIR/v3.body" ||
		fail "the body after a no-cache revalidation differs from the stored one"
else
	assert_eq "" "$(lab_uhdr "$t" 2 If-None-Match)" "If-None-Match the upstream got for a no-cache GET"
	assert_eq 2 "$(lab_bn v3)" "upstream counter in the answer to an unconditional no-cache GET"
fi
n3=$(lab_bn v3)
assert_eq 200 "$(lab_get v4 "https://api.test$t")" "status of a GET after the no-cache one (ETag)"
lab_assert_cs v4 "sluice; hit" "GET after the no-cache one (ETag)"
assert_eq "$n3" "$(lab_bn v4)" "upstream counter in the GET after the no-cache one (ETag)"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got (ETag)"

# Without a validator: a full fetch, which is then the entry.
t='/cache/nc2?cc=max-age%3D60'
assert_eq 200 "$(lab_get p1 "https://api.test$t")" "status of the first GET (no validator)"
assert_eq 200 "$(lab_get p2 -H 'Cache-Control: no-cache' "https://api.test$t")" \
	"status of a no-cache GET of a fresh entry without validator"
assert_contains "$(lab_hval p2 Cache-Status)" "sluice; fwd=" "Cache-Status of a no-cache GET (no validator)"
assert_eq 2 "$(lab_bn p2)" "upstream counter in the answer to a no-cache GET (no validator)"
assert_eq "" "$(lab_uhdr "$t" 2 If-None-Match)$(lab_uhdr "$t" 2 If-Modified-Since)" \
	"conditional fields the upstream got (no validator)"
assert_eq 200 "$(lab_get p3 "https://api.test$t")" "status of a GET after the no-cache one (no validator)"
lab_assert_cs p3 "sluice; hit" "GET after the no-cache one (no validator)"
assert_eq 2 "$(lab_bn p3)" "upstream counter in the GET after the no-cache one: the newer answer"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got (no validator)"

# no-store in the request: forwarded, not stored.
t='/cache/ns?cc=max-age%3D60'
assert_eq 200 "$(lab_get s1 -H 'Cache-Control: no-store' "https://api.test$t")" "status of a no-store GET"
assert_eq 200 "$(lab_get s2 "https://api.test$t")" "status of a GET after a no-store one"
lab_assert_cs s2 "sluice; fwd=miss" "GET after a no-store one"
assert_eq 2 "$(lab_bn s2)" "upstream counter in a GET after a no-store one"
assert_eq 200 "$(lab_get s3 "https://api.test$t")" "status of the next GET"
lab_assert_cs s3 "sluice; hit" "the next GET"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got (no-store request)"
lab_stop_sluice
