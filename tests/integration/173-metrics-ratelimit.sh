#!/bin/bash
# Rate limits in /metrics: under a reject-mode limit (2 per hour) five
# requests are two forwarded and three refused (429), counted as rejected,
# as rate_limited requests and as 4xx; under a delay-mode limit (2 per
# second, burst 1) three requests at once are one let through and two
# delayed, all answered 200, none rejected.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rules (id, host, path, action) VALUES (3, 'api.test', '/status/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst)
		VALUES (1, 2, 3600, 2);
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst, on_limit, max_delay_ms)
		VALUES (3, 2, 1, 1, 'delay', 3000);" || fail "inserting the rules"
ADMIN=127.0.0.1:9173
lab_start_sluice --default-policy deny --admin "$ADMIN"

lab_metrics_mark "$ADMIN"
codes=
for i in 1 2 3 4 5; do
	codes+=" $(lab_curl -o /dev/null -w '%{http_code}' "https://api.test/echo/$i")" ||
		fail "curl $i failed"
done
assert_eq " 200 200 429 429 429" "$codes" "statuses of five requests under 2 per hour"
lab_metrics "$ADMIN"
assert_eq 3 "$(lab_metric_delta sluice_ratelimit_rejected_total)" "requests rejected by a rate limit"
assert_eq 3 "$(lab_metric_delta 'sluice_requests_total{decision="rate_limited"}')" "rate_limited requests"
assert_eq 2 "$(lab_metric_delta 'sluice_requests_total{decision="forwarded"}')" "forwarded requests"
assert_eq 3 "$(lab_metric_delta 'sluice_responses_total{class="4xx"}')" "4xx responses"
assert_eq 5 "$(lab_metric_delta 'sluice_rule_requests_total{rule="1"}')" "requests under rule 1"
assert_eq 0 "$(lab_metric_delta sluice_ratelimit_delayed_total)" "requests delayed in reject mode"

lab_metrics_mark "$ADMIN"
lab_burst 3 https://api.test/status/200 >"$LAB_DIR/burst" || fail "lab_burst failed"
assert_eq "200 3" "$(lab_codes <"$LAB_DIR/burst")" "statuses of three requests at once in delay mode"
lab_metrics "$ADMIN"
assert_eq 2 "$(lab_metric_delta sluice_ratelimit_delayed_total)" "requests delayed"
assert_eq 0 "$(lab_metric_delta sluice_ratelimit_rejected_total)" "requests rejected in delay mode"
assert_eq 0 "$(lab_metric_delta 'sluice_requests_total{decision="rate_limited"}')" "rate_limited requests in delay mode"
assert_eq 3 "$(lab_metric_delta 'sluice_requests_total{decision="forwarded"}')" "forwarded requests in delay mode"
lab_stop_sluice
