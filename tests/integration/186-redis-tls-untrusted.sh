#!/bin/bash
# --redis-tls refuses a Redis whose certificate is signed by a CA that
# sluice does not trust (the lab's second CA; --upstream-ca names the
# first): the shared limit is decided locally (limit_source 'local', the
# rate / --fleet-size), one line logs the outage and one names the verify
# error, however many requests come.
. "$(dirname "$0")/../lab/fleet.sh"
lab_require_sluice
fleet_up
fleet_redis_start_tls "$LAB_DIR/certs/untrusted/default"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, shared) VALUES (1, 20, 10, 1);" ||
	fail "inserting the rules"
lab_start_sluice --redis "$LAB_U4:$FLEET_REDIS_PORT" --redis-tls --default-policy deny \
	--workers 1 --fleet-size 2 --redis-timeout-ms 50

# Local bucket: 20 per 20 s, burst 10: 10 of 14 quick requests pass, and
# one more per second the test takes.
start=$(date +%s%N)
for i in $(seq 14); do
	lab_curl -o /dev/null -w '%{http_code}\n' https://api.test/echo/x
done >"$LAB_DIR/codes"
ms=$((($(date +%s%N) - start) / 1000000))
ok=$(grep -c 200 "$LAB_DIR/codes")
limited=$(grep -c 429 "$LAB_DIR/codes")
assert_eq 14 "$((ok + limited))" "answers that were 200 or 429"
[ "$ok" -ge 10 ] && [ "$ok" -le $((10 + ms / 1000 + 1)) ] && [ "$limited" -ge 1 ] ||
	fail "$ok of 14 passed in $ms ms; the local share (burst 10, 1 per second) allows 10 to $((10 + ms / 1000 + 1))"
assert_eq 14 "$(lab_audit_wait 14)" "audit rows"
assert_eq "local|14" "$(lab_audit_sql 'SELECT limit_source, count(*) FROM requests GROUP BY 1')" \
	"audit (limit_source|count)"
assert_eq 1 "$(grep -c 'TLS to Redis failed: certificate verify failed: unable to get local issuer certificate' \
	"$LAB_DIR/sluice.log")" "lines naming the verify error ($(grep -m1 'redis' "$LAB_DIR/sluice.log"))"
assert_eq 1 "$(grep -c 'shared limits decided locally' "$LAB_DIR/sluice.log")" "outage lines"
lab_stop_sluice
