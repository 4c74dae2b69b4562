#!/bin/bash
# --report-only with --default-policy deny and no rule: the request is
# forwarded, the upstream receives it, the audit row says 'would_deny' with
# no rule_id, the log line says rule=none and never the query (where a
# client may carry its own key), and /metrics counts it under
# decision="would_deny".
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
ADMIN=127.0.0.1:9161
lab_start_sluice --default-policy deny --report-only --admin "$ADMIN"

code=$(lab_curl -o /dev/null -w '%{http_code}' 'https://other.test/echo/x?key=sk-report-161') ||
	fail "curl failed"
assert_eq 200 "$code" "status of a request no rule allows, under --report-only"
assert_eq 1 "$(lab_upstream_hits /echo/x)" "requests for /echo/x the upstream got"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "other.test|/echo/x?key=sk-report-161|would_deny||200" \
	"$(lab_audit_sql "SELECT host, path, decision, ifnull(rule_id, ''), status FROM requests")" \
	"audit row (host|path|decision|rule_id|status)"
line=$(lab_log_wait 'event=would_deny') || fail "no event=would_deny log line"
assert_contains "$line" "host=other.test method=GET path=/echo/x rule=none" "the would_deny log line"
assert_not_contains "$(cat "$LAB_DIR/sluice.log")" "sk-report-161" "sluice's log"
metric=$(lab_in_g curl -sS --max-time 10 "http://$ADMIN/metrics" |
	awk '$1 == "sluice_requests_total{decision=\"would_deny\"}" { print $2 }')
assert_eq 1 "$metric" "sluice_requests_total{decision=\"would_deny\"}"
lab_stop_sluice
