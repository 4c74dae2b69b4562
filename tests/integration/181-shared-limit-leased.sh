#!/bin/bash
# Shared limit, leased mode: with lease = 5, each gateway takes 5 tokens of
# the shared 20 per 10 s at once and spends them alone.  A client
# alternating between the two gateways gets at most 20 + 5 x 2 answers of
# 200 (plus the refill while the test runs), at least 20 - 5 x 2, and far
# fewer than Redis calls than requests: the audit says limit_source 'redis'
# for every row (a leased token is Redis's decision, spent later).
# Redis is healthy here, so its deadline is 2 s: a round trip under the
# sanitizers on a busy machine can pass the default 50 ms, and what a
# missed deadline does is 182's and 183's subject.
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared, lease)
		VALUES (1, 20, 10, 1, 5);" || fail "inserting the rules"
fleet_start_sluices --default-policy deny --workers 1 --fleet-size 2 --redis-timeout-ms 2000
fleet_redis_cli CONFIG RESETSTAT >/dev/null || fail "redis-cli CONFIG RESETSTAT"

start=$(date +%s%N)
fleet_alternate 60 https://api.test/echo/x >"$LAB_DIR/out" || fail "fleet_alternate failed"
ms=$((($(date +%s%N) - start) / 1000000))
ok=$(awk '$2 == 200' "$LAB_DIR/out" | wc -l)
limited=$(awk '$2 == 429' "$LAB_DIR/out" | wc -l)
lab_log "passed $ok of 60 in $ms ms"
assert_eq 60 "$((ok + limited))" "answers that were 200 or 429"
bound=$((20 + 5 * 2 + ms * 2 / 1000))
[ "$ok" -ge 10 ] && [ "$ok" -le "$bound" ] ||
	fail "$ok requests passed in $ms ms; leased 20 per 10 s allows 10 to $bound"
assert_eq "$ok" "$(lab_upstream_hits /echo/x)" "requests that reached the upstream"
calls=$(fleet_redis_cli INFO commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_evalsha:/ { print $3 }')
[ "${calls:-0}" -ge 1 ] && [ "$calls" -lt 60 ] ||
	fail "$calls EVALSHA calls for 60 requests: tokens are not leased"
assert_eq 60 "$(fleet_audit_wait 60)" "audit rows of both gateways"
assert_eq "redis|60" "$(fleet_audit_sql 'SELECT limit_source, count(*) FROM r GROUP BY 1')" \
	"audit: limit_source of every row"
fleet_stop_sluices
