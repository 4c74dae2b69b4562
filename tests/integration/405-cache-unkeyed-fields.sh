#!/bin/bash
# Web cache poisoning: frameworks build links and redirects from
# X-Forwarded-Host and its kin, which the cache key does not hold.  A
# request carrying one (here evil.test, echoed by the origin into its
# body) bypasses the cache: it is not stored, so the next, clean client
# gets its own answer (a miss, then hits) and never evil.test; nor is a
# clean request that arrives while it is on its way collapsed onto it.
# On both listeners, over HTTP/1.1 and h2.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up "
	INSERT INTO rules (id, host, path, action) VALUES (2, 'api.test', '/slow/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (2, 60);"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
n=0
for via in transparent connect; do
	p=
	[ $via = connect ] && p="--proxy $proxy"
	for v in --http1.1 --http2; do
		while read -r field; do
			n=$((n + 1))
			t="/cache/405/$n"
			what="'$field' ($via, $v)"
			assert_eq 200 "$(lab_get e$n $p $v -H "$field" "https://api.test$t")" "status with $what"
			assert_contains "$(cat "$LAB_DIR/e$n.body")" evil.test "the origin's answer to $what"
			assert_eq 200 "$(lab_get c$n $p $v "https://api.test$t")" "status of a clean request after $what"
			assert_not_contains "$(cat "$LAB_DIR/c$n.body")" evil.test "clean answer after $what"
			lab_assert_cs c$n "sluice; fwd=miss" "Cache-Status of a clean request after $what"
			lab_assert_cs e$n "sluice; fwd=bypass" "Cache-Status with $what"
			lab_get d$n $p $v "https://api.test$t" >/dev/null
			lab_assert_cs d$n "sluice; hit" "Cache-Status of the second clean request after $what"
			assert_not_contains "$(cat "$LAB_DIR/d$n.body")" evil.test "cached answer after $what"
		done <<-EOF
		X-Forwarded-Host: evil.test
		X-Forwarded-Proto: http://evil.test
		Forwarded: host=evil.test;proto=http
		X-Original-URL: /cache/evil.test
		X-HTTP-Method-Override: evil.test
		EOF

		# The poisoner leads a slow fetch; a clean request 0.3 s later
		# must not wait for its answer and be served it.
		t="/slow/1?$via$v"
		lab_get ps$n $p $v -H 'X-Forwarded-Host: evil.test' "https://api.test$t" >/dev/null &
		bg=$!
		sleep 0.3
		lab_get pc$n $p $v "https://api.test$t" >/dev/null
		wait $bg
		assert_contains "$(cat "$LAB_DIR/ps$n.body")" evil.test "the slow answer to the poisoner ($via, $v)"
		assert_not_contains "$(cat "$LAB_DIR/pc$n.body")" evil.test "the clean request beside it ($via, $v)"
		assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for $t"
	done
done
lab_stop_sluice
