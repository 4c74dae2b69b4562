#!/bin/bash
# HTTP/2 inside the explicit proxy's tunnel: after CONNECT api.test:443 a
# client that negotiates h2 is intercepted as on the transparent listener
# (its stream forwarded, client_proto h2, the connection row naming the
# CONNECT host), and a stream whose :authority names another host than the
# CONNECT host gets 421 on that stream, not a ride on api.test's rule.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow'),
	(2, 'other.test', 'allow')" || fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
out=$(lab_curl --http2 --proxy "$proxy" -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	'https://api.test/echo?via=connect-h2') || fail "curl --http2 --proxy failed"
assert_eq "200 2" "$out" "status and version through CONNECT"
assert_eq "/echo?via=connect-h2" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" \
	"path the upstream saw"

out=$(lab_curl --http2 --proxy "$proxy" -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	-H 'Host: other.test' 'https://api.test/echo?via=other') || fail "curl (Host other.test) failed"
assert_eq "421 2" "$out" "status and version of a stream for other.test in api.test's tunnel"
assert_eq 0 "$(lab_upstream_hits '/echo?via=other')" "requests for other.test the upstream got"

# A connection's row is written when it ends, after its requests' rows.
assert_eq 2 "$(lab_audit_wait 2 "conn_id IN (SELECT id FROM connections)")" \
	"audit rows with their connections' rows"
assert_eq "forwarded|200|h2|api.test
error|421|h2|api.test" "$(lab_audit_sql "SELECT r.decision, r.status, r.client_proto, \
	c.connect_host FROM requests r JOIN connections c ON c.id = r.conn_id ORDER BY r.id")" \
	"audit rows (decision|status|client_proto|connections.connect_host)"
lab_stop_sluice
