#!/bin/bash
# /metrics counts requests as the client drives them: N forwarded requests
# under rule 14 and one denied by rule 13 move the counters by decision,
# status class and rule by exactly that; the latency histogram gains N
# observations; a rule that is no longer loaded leaves /metrics; the audit
# counters say what was written and that nothing waits or was dropped.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

ADMIN=127.0.0.1:9170
lab_rules_sql "
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(13, 10, 'api.test', '/deny/*', 'deny'),
		(14, 20, 'api.test', NULL, 'allow'),
		(15, 30, 'other.test', NULL, 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny --admin "$ADMIN"

lab_metrics "$ADMIN"
m=$(cat "$LAB_DIR/metrics")
for t in 'sluice_requests_total counter' 'sluice_responses_total counter' \
	'sluice_rule_requests_total counter' 'sluice_upstream_latency_seconds histogram' \
	'sluice_upstream_connections_active gauge' 'sluice_audit_written_total counter' \
	'sluice_audit_queue_depth gauge'; do
	assert_contains "$m" "# TYPE $t" "/metrics"
done
assert_contains "$m" "# HELP sluice_rule_requests_total " "/metrics"
assert_eq 0 "$(lab_metric 'sluice_rule_requests_total{rule="15"}')" "requests under rule 15 before any"

lab_metrics_mark "$ADMIN"
N=4
for ((i = 0; i < N; i++)); do
	c=$(lab_curl -o /dev/null -w '%{http_code}' "https://api.test/echo?i=$i") || fail "curl $i failed"
	assert_eq 200 "$c" "status of forwarded request $i"
done
c=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/status/503) || fail "curl failed (503)"
assert_eq 503 "$c" "status the upstream chose"
c=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/deny/x) || fail "curl failed (denied)"
assert_eq 403 "$c" "status of the denied request"
assert_eq $((N + 2)) "$(lab_audit_wait $((N + 2)))" "audit rows"

lab_metrics "$ADMIN"
assert_eq $((N + 1)) "$(lab_metric_delta 'sluice_requests_total{decision="forwarded"}')" "forwarded requests"
assert_eq 1 "$(lab_metric_delta 'sluice_requests_total{decision="denied"}')" "denied requests"
assert_eq 0 "$(lab_metric_delta 'sluice_requests_total{decision="error"}')" "errors"
assert_eq "$N" "$(lab_metric_delta 'sluice_responses_total{class="2xx"}')" "2xx responses"
assert_eq 1 "$(lab_metric_delta 'sluice_responses_total{class="4xx"}')" "4xx responses"
assert_eq 1 "$(lab_metric_delta 'sluice_responses_total{class="5xx"}')" "5xx responses"
assert_eq 0 "$(lab_metric_delta 'sluice_responses_total{class="3xx"}')" "3xx responses"
assert_eq $((N + 1)) "$(lab_metric_delta 'sluice_rule_requests_total{rule="14"}')" "requests under rule 14"
assert_eq 1 "$(lab_metric_delta 'sluice_rule_requests_total{rule="13"}')" "requests under rule 13"
assert_eq 0 "$(lab_metric_delta 'sluice_rule_requests_total{rule="15"}')" "requests under rule 15"
# Only forwarded requests wait for an upstream's response head.
assert_eq $((N + 1)) "$(lab_metric_delta 'sluice_upstream_latency_seconds_count')" "latency observations"
assert_eq $((N + 1)) "$(lab_metric_delta 'sluice_upstream_latency_seconds_bucket{le="+Inf"}')" \
	"observations in the +Inf bucket"
le10=$(lab_metric_delta 'sluice_upstream_latency_seconds_bucket{le="10"}')
assert_eq $((N + 1)) "$le10" "observations under 10 s"
sum=$(lab_metric_delta 'sluice_upstream_latency_seconds_sum')
"$LAB_PY" -c 'import sys; sys.exit(not (0 < float(sys.argv[1]) < 10))' "$sum" ||
	fail "latency sum grew by $sum s for $((N + 1)) quick requests"
# Each connection writes a request row and a connection row.
written() { lab_metrics "$ADMIN"; [ "$(lab_metric_delta sluice_audit_written_total)" = $((2 * (N + 2))) ]; }
lab_poll 3000 written >/dev/null ||
	fail "audit records written: $(lab_metric_delta sluice_audit_written_total), not $((2 * (N + 2)))"
assert_eq 0 "$(lab_metric 'sluice_audit_queue_depth')" "audit records waiting"
assert_eq 0 "$(lab_metric 'sluice_audit_dropped_total')" "audit records dropped"
assert_eq 0 "$(lab_metric 'sluice_connections_active')" "client connections open after the requests"

# A rule deleted from rules.db leaves /metrics; the others stay.
lab_rules_sql "DELETE FROM rules WHERE id = 13" || fail "deleting rule 13"
gone() { lab_metrics "$ADMIN"; ! grep -q 'rule="13"' "$LAB_DIR/metrics"; }
lab_poll 4000 gone >/dev/null || fail "rule 13 still in /metrics after it was deleted"
assert_eq $((N + 1)) "$(lab_metric_delta 'sluice_rule_requests_total{rule="14"}')" \
	"requests under rule 14 after the reload"
lab_stop_sluice
