#!/bin/bash
# Shared limit, exact mode: rule 1 allows 20 per 10 s with shared = 1, and
# two gateways (each its own sluice, one worker) ask the same Redis.  A
# client alternating between them gets exactly 20 answers of 200 in all
# (plus what the bucket refills while the test runs, 2 per second), both
# gateways pass some, the rest are 429 with Retry-After and RateLimit
# fields; every row of both audit databases says limit_source 'redis'.
# Without a shared bucket each gateway would pass 20: 40 in all.
# Redis is healthy here, so its deadline is 2 s: a round trip under the
# sanitizers on a busy machine can pass the default 50 ms, and what a
# missed deadline does is 182's and 183's subject.
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"
fleet_start_sluices --default-policy deny --workers 1 --fleet-size 2 --redis-timeout-ms 2000

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
assert_eq "$ok" "$(lab_upstream_hits /echo/x)" "requests that reached the upstream"

# The first 429 (the bucket just emptied; a token every 0.5 s): Retry-After
# 1, whole seconds rounded up, and the RateLimit fields.
IFS='|' read -r ra rlp rl <<<"$(awk '$2 == 429 { print $5; exit }' "$LAB_DIR/out")"
assert_eq 1 "$ra" "Retry-After of the first 429"
assert_eq '"rule-1";q=20;w=10' "$rlp" "RateLimit-Policy"
assert_eq "\"rule-1\";r=0;t=$ra" "$rl" "RateLimit"

lab_log "passed $ok of 40 in $ms ms"
assert_eq 40 "$(fleet_audit_wait 40)" "audit rows of both gateways"
assert_eq "forwarded|200|redis|$ok
rate_limited|429|redis|$limited" \
	"$(fleet_audit_sql 'SELECT decision, status, limit_source, count(*) FROM r
		GROUP BY 1, 2, 3 ORDER BY 1')" "audit (decision|status|limit_source|count)"
assert_eq "" "$(grep -h 'decided locally' "$LAB_DIR/sluice.log" "$LAB_DIR/sluice2.log")" \
	"no outage logged"
fleet_stop_sluices
