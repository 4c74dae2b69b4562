#!/bin/bash
# The cache is shared, so one client's session never reaches another: a
# response that sets a cookie is not stored (as nginx and Varnish do), and
# a response to a request that carried the client's own Cookie is stored
# only when the origin marks it shareable (public, s-maxage), as for its
# own Authorization (RFC 9111, 3.5).  The next request goes upstream and
# gets its own answer; on both listeners.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up "
	INSERT INTO rules (id, host, path, action) VALUES (2, 'api.test', '/headers*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (2, 60);"
lab_start_sluice --default-policy deny

for v in --http1.1 --http2; do
	t="/headers?Set-Cookie=sid%3Dalice$v"
	assert_eq 200 "$(lab_get sc1$v $v "https://api.test$t")" "status of the Set-Cookie response ($v)"
	assert_eq 200 "$(lab_get sc2$v $v "https://api.test$t")" "status of the next request ($v)"
	assert_eq "" "$(lab_hval sc2$v Age)" "Age of the next answer ($v): not from the cache"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for $t"

	t="/cache/cookie$v"
	assert_eq 200 "$(lab_get ck1$v $v -H 'Cookie: sid=alice' "https://api.test$t")" \
		"status with alice's Cookie ($v)"
	assert_eq 200 "$(lab_get ck2$v $v "https://api.test$t")" "status without a Cookie ($v)"
	lab_assert_cs ck2$v "sluice; fwd=miss" "Cache-Status without a Cookie ($v)"
	assert_not_contains "$(cat "$LAB_DIR/ck2$v.body")" alice "answer without a Cookie ($v)"
	assert_eq 2 "$(lab_bn ck2$v)" "upstream's count for $t"

	t="/cache/cookie-public$v?cc=public,max-age=60"
	lab_get cp1$v $v -H 'Cookie: sid=alice' "https://api.test$t" >/dev/null
	lab_get cp2$v $v "https://api.test$t" >/dev/null
	lab_assert_cs cp2$v "sluice; hit" "Cache-Status of a public answer to a Cookie ($v)"
done
lab_stop_sluice
