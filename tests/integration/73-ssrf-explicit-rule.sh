#!/bin/bash
# Only a rule that names a guarded address or host exactly lets sluice dial
# it: '*' and wildcards do not.  Here both names resolve to 127.0.0.1, where
# a service on the gateway listens.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_gateway_service
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, '*', 'allow');
	INSERT INTO rules (id, host, action) VALUES (2, '*.test', 'allow');
	INSERT INTO rules (id, host, action) VALUES (3, 'api.test', 'allow');
	INSERT INTO rules (id, host, action) VALUES (4, '127.0.0.1', 'deny')" ||
	fail "inserting the rules"
lab_start_sluice --default-policy allow \
	--resolve "api.test:443:127.0.0.1" --resolve "other.test:443:127.0.0.1"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
code=$(lab_curl -p -x "$proxy" -o "$LAB_DIR/body" -w '%{http_connect} %{http_code}' \
	'https://api.test/echo?via=rule') || fail "CONNECT api.test (named by rule 3) failed"
assert_eq "200 200" "$code" "CONNECT and request status for api.test"
assert_eq "/echo?via=rule" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path the gateway's service saw"

code=$(lab_curl -p -x "$proxy" -o /dev/null -w '%{http_connect}' https://other.test/echo 2>/dev/null)
assert_eq 403 "$code" "CONNECT status for other.test (only '*' and '*.test' match)"

# Transparent, with the same names.
code=$(lab_curl -o /dev/null -w '%{http_code}' 'https://api.test/echo?via=transparent') ||
	fail "transparent request to api.test failed"
assert_eq 200 "$code" "transparent status for api.test"
lab_curl -o /dev/null https://other.test/echo 2>/dev/null &&
	fail "transparent request to other.test reached 127.0.0.1"

assert_eq 2 "$(grep -c '"event": "request"' "$LAB_REQLOG_G")" "requests the gateway's service got"
lab_stop_sluice
assert_eq "other.test|destination 127.0.0.1 is a loopback address
other.test|destination 127.0.0.1 is a loopback address" \
	"$(lab_audit_sql "SELECT host, error FROM requests WHERE decision = 'denied' ORDER BY id")" \
	"denied audit rows (host|error)"
