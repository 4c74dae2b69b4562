#!/bin/bash
# --redis-tls: Redis listens for TLS only (--port 0: no plain-text port, so
# only TLS can work), with a certificate from the lab's upstream CA naming
# its address as an IP SAN, and asks for a password.  Two gateways with
# --redis-tls share a limit of 20 per 10 s (exact mode) through it: a
# client alternating between them gets exactly 20 answers of 200 (plus the
# refill while the test runs), every audit row says limit_source 'redis',
# no outage is logged, and Redis holds the bucket.
# Redis is healthy here, so its deadline is 2 s: a round trip under the
# sanitizers on a busy machine can pass the default 50 ms, and what a
# missed deadline does is 182's and 183's subject.
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start_tls "$LAB_DIR/certs/trusted/default" --requirepass s3cret-tls
printf 's3cret-tls\n' >"$LAB_DIR/redis.pass"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"
fleet_start_sluices --default-policy deny --workers 1 --fleet-size 2 --redis-timeout-ms 2000 --redis-tls \
	--redis-password-file "$LAB_DIR/redis.pass"

start=$(date +%s%N)
fleet_alternate 40 https://api.test/echo/x >"$LAB_DIR/out" || fail "fleet_alternate failed"
ms=$((($(date +%s%N) - start) / 1000000))
ok=$(awk '$2 == 200' "$LAB_DIR/out" | wc -l)
limited=$(awk '$2 == 429' "$LAB_DIR/out" | wc -l)
assert_eq 40 "$((ok + limited))" "answers that were 200 or 429 ($(awk '{print $2}' "$LAB_DIR/out" | sort | uniq -c | tr '\n' ' '))"
bound=$((20 + ms * 2 / 1000))
[ "$ok" -ge 20 ] && [ "$ok" -le "$bound" ] ||
	fail "$ok requests passed in $ms ms; a shared 20 per 10 s allows 20 to $bound"
for gw in 1 2; do
	n=$(awk -v g=$gw '$1 == g && $2 == 200' "$LAB_DIR/out" | wc -l)
	[ "$n" -ge 5 ] || fail "gateway $gw passed only $n requests: not alternating?"
done
lab_log "passed $ok of 40 in $ms ms over TLS"
assert_eq 40 "$(fleet_audit_wait 40)" "audit rows of both gateways"
assert_eq "forwarded|200|redis|$ok
rate_limited|429|redis|$limited" \
	"$(fleet_audit_sql 'SELECT decision, status, limit_source, count(*) FROM r
		GROUP BY 1, 2, 3 ORDER BY 1')" "audit (decision|status|limit_source|count)"
assert_eq "" "$(grep -h 'decided locally\|TLS to Redis' "$LAB_DIR/sluice.log" "$LAB_DIR/sluice2.log")" \
	"no outage logged"
assert_eq 1 "$(fleet_redis_cli --tls --cacert "$LAB_DIR/certs/ca.crt" -a s3cret-tls \
	--no-auth-warning EXISTS sluice:rl:1)" "the bucket, in Redis (over TLS)"
fleet_stop_sluices
