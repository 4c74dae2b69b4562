#!/bin/bash
# Redis stopped mid-run: requests under a shared limit keep being decided,
# by each gateway's local bucket at rate / --fleet-size, each within the
# deadline (--redis-timeout-ms 50: its audit duration stays far below what
# a request waiting on a dead Redis would take); their audit rows say
# limit_source 'local'; each gateway logs the outage once, not per request,
# and counts local decisions in /metrics.  Redis back: the gateways notice
# (backoff at most 2 s) and shared decisions resume ('redis').
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"
fleet_start_sluices --default-policy deny --workers 1 --fleet-size 2 --redis-timeout-ms 50 \
	--admin 127.0.0.1:9901

fleet_alternate 4 https://api.test/echo/up >"$LAB_DIR/out1" || fail "fleet_alternate failed"
assert_eq 4 "$(awk '$2 == 200' "$LAB_DIR/out1" | wc -l)" "200s while Redis runs"

fleet_redis_stop
# Local buckets: 20 per 20 s, burst 10, on each gateway; 8 requests pass.
fleet_alternate 8 https://api.test/echo/down 100 >"$LAB_DIR/out2" || fail "fleet_alternate failed"
assert_eq 8 "$(awk '$2 == 200' "$LAB_DIR/out2" | wc -l)" "200s while Redis is down ($(cat "$LAB_DIR/out2" | tr '\n' ' '))"
# 20 more through G alone: its local bucket (10, minus what it already
# passed) runs out, so local decisions refuse too.
fleet_alternate 1 https://api.test/echo/down >/dev/null
for i in $(seq 20); do
	lab_curl -o /dev/null -w '%{http_code}\n' https://api.test/echo/g1
done >"$LAB_DIR/codes3"
limited=$(grep -c 429 "$LAB_DIR/codes3")
[ "$limited" -ge 5 ] || fail "only $limited of 20 refused by G's local share (burst 10, 1 per second)"
for f in sluice.log sluice2.log; do
	assert_eq 1 "$(grep -c 'shared limits decided locally' "$LAB_DIR/$f")" "outage lines in $f"
done
metric=$(lab_in_g curl -s http://127.0.0.1:9901/metrics | awk '$1 == "sluice_shared_limit_local_total" { print $2 }')
[ "${metric:-0}" -ge 20 ] || fail "sluice_shared_limit_local_total is '$metric' on G"

fleet_redis_start
lab_log_wait 'answers again' 5 >/dev/null || fail "G did not notice Redis back within 5 s"
for ((i = 0; i < 50; i++)); do
	grep -q 'answers again' "$LAB_DIR/sluice2.log" && break
	sleep 0.1
done
grep -q 'answers again' "$LAB_DIR/sluice2.log" || fail "G2 did not notice Redis back within 5 s"
fleet_alternate 4 https://api.test/echo/back >"$LAB_DIR/out4" || fail "fleet_alternate failed"
assert_eq 4 "$(awk '$2 == 200' "$LAB_DIR/out4" | wc -l)" "200s once Redis is back (a new, full bucket)"

total=$((4 + 8 + 1 + 20 + 4))
assert_eq $total "$(fleet_audit_wait $total)" "audit rows of both gateways"
assert_eq "up|redis|4
down|local|9
g1|local|20
back|redis|4" "$(fleet_audit_sql "SELECT substr(path, 7), limit_source, count(*) FROM r
	GROUP BY 1, 2 ORDER BY min(ts)")" "audit (path|limit_source|count)"
slow=$(fleet_audit_sql "SELECT count(*) FROM r WHERE limit_source = 'local' AND duration_ms > 500")
assert_eq 0 "$slow" "local decisions that took over 500 ms"
fleet_stop_sluices
