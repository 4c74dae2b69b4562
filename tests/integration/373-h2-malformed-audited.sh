#!/bin/bash
# A malformed HTTP/2 stream (a connection-specific field, RFC 9113 8.2.2)
# is reset and audited as HTTP/1's malformed heads are: decision error, no
# status or method, an empty path, an error naming the rule, client_proto h2, and
# /metrics counts it as an error.  Rows are bounded per connection (10):
# of 50 malformed streams on one connection 10 are rows, all 50 count; a
# flood of 2,000 writes at most 10 rows per connection it used, and other
# clients are served meanwhile.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_client2_up
ADMIN=127.0.0.1:9173
lab_start_sluice --default-policy allow --admin "$ADMIN"
lab_require_h2

lab_metrics_mark "$ADMIN"
out=$(lab_h2tool h2abuse malformed --count 50 --path /echo) || fail "h2abuse.py failed: $out"
assert_eq 1 "$(lab_json "$out" 'd["connections"]')" "connections h2abuse.py used"
assert_eq 10 "$(lab_audit_wait 10)" "audit rows of 50 malformed streams on one connection"
assert_eq "10|error|NULL|NULL||h2|api.test" "$(lab_audit_sql "SELECT count(*), decision,
	quote(status), quote(method), coalesce(path, ''), client_proto, host FROM requests
	GROUP BY decision")" "count, decision, status, method, path, client_proto, host"
assert_contains "$(lab_audit_sql "SELECT DISTINCT error FROM requests")" "RFC 9113 8.2" \
	"the error names the rule"
lab_metrics "$ADMIN"
assert_eq 50 "$(lab_metric_delta 'sluice_requests_total{decision="error"}')" \
	"errors /metrics counted"

out=$(lab_h2abuse_bounded malformed 10000 65536 --count 2000 --path /echo)
conns=$(lab_json "$out" 'd["connections"]')
rows=$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'error'")
[ "$rows" -le $((10 + 10 * conns)) ] ||
	fail "$rows rows after a flood over $conns connections: more than 10 each"
lab_stop_sluice
