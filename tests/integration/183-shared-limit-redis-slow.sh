#!/bin/bash
# A Redis that answers slowly (DEBUG SLEEP 2: it answers nothing for 2 s)
# never makes a request wait past the deadline (--redis-timeout-ms 100):
# every request sent meanwhile is answered, by the local bucket, in about
# the deadline at most (its audit duration_ms, and the time the client
# measured, stay far below the 2 s a request waiting for Redis would
# take); the outage is logged once per gateway; the late replies are
# dropped; once Redis answers again, decisions are shared again.
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 100, 10, 1);" ||
	fail "inserting the rules"
fleet_start_sluices --default-policy deny --workers 1 --fleet-size 2 --redis-timeout-ms 100

fleet_alternate 2 https://api.test/echo/before >"$LAB_DIR/out1" || fail "fleet_alternate failed"
fleet_redis_cli DEBUG SLEEP 2 >/dev/null &
sleeper=$!
sleep 0.2
fleet_alternate 12 https://api.test/echo/slow 50 >"$LAB_DIR/out2" || fail "fleet_alternate failed"
wait "$sleeper"
assert_eq 12 "$(awk '$2 == 200' "$LAB_DIR/out2" | wc -l)" "200s while Redis sleeps ($(tr '\n' ' ' <"$LAB_DIR/out2"))"
worst=$(awk '{ if ($4 > m) m = $4 } END { printf "%d", m }' "$LAB_DIR/out2")
[ "$worst" -lt 1000 ] || fail "a request took $worst ms while Redis slept 2 s (deadline 100 ms)"

for f in sluice.log sluice2.log; do
	for ((i = 0; i < 50; i++)); do
		grep -q 'answers again' "$LAB_DIR/$f" && break
		sleep 0.1
	done
	grep -q 'answers again' "$LAB_DIR/$f" || fail "$f: Redis not noticed back within 5 s"
	assert_eq 1 "$(grep -c 'shared limits decided locally' "$LAB_DIR/$f")" "outage lines in $f"
done
fleet_alternate 2 https://api.test/echo/after >"$LAB_DIR/out3" || fail "fleet_alternate failed"

assert_eq 16 "$(fleet_audit_wait 16)" "audit rows of both gateways"
assert_eq "before|redis|2
slow|local|12
after|redis|2" "$(fleet_audit_sql "SELECT substr(path, 7), limit_source, count(*) FROM r
	GROUP BY 1, 2 ORDER BY min(ts)")" "audit (path|limit_source|count)"
worst=$(fleet_audit_sql "SELECT max(duration_ms) FROM r WHERE path = '/echo/slow'")
lab_log "longest audited duration while Redis slept: $worst ms"
awk -v w="$worst" 'BEGIN { exit !(w < 600) }' ||
	fail "an audited request took $worst ms while Redis slept (deadline 100 ms)"
fleet_stop_sluices
