#!/bin/bash
# The SSRF guard, transparent mode: a client that sends its connection to
# the gateway's own address, or a passthrough name that resolves to
# loopback, is closed before TLS with a 'denied' audit row saying why; the
# service on the gateway never sees a connection.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_gateway_service
printf '127.0.0.1\tloop.svc.test\n' >>"/etc/netns/$LAB_G/hosts"
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (5, '*.svc.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy allow

lab_curl --resolve "api.test:443:$LAB_GL4" -o /dev/null https://api.test/echo 2>/dev/null &&
	fail "a connection to the gateway's LAN address $LAB_GL4 was served"
lab_curl -6 --resolve "api.test:443:[$LAB_GL6]" -o /dev/null https://api.test/echo 2>/dev/null &&
	fail "a connection to the gateway's LAN address $LAB_GL6 was served"
lab_curl -k --resolve "loop.svc.test:443:$LAB_U4" -o /dev/null https://loop.svc.test/echo 2>/dev/null &&
	fail "a passthrough name resolving to 127.0.0.1 was tunnelled"
# An ordinary destination still works.
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl to api.test failed"
assert_eq 200 "$code" "status of a request to the real upstream"

assert_eq "" "$(cat "$LAB_REQLOG_G")" "what the gateway's own service logged"
assert_eq 3 "$(lab_audit_wait 3 "decision = 'denied'")" "denied audit rows"
assert_eq "api.test|$LAB_GL4:443|destination $LAB_GL4 is an address of the gateway itself
api.test|[$LAB_GL6]:443|destination $LAB_GL6 is an address of the gateway itself
loop.svc.test|127.0.0.1:443|destination 127.0.0.1 is a loopback address" \
	"$(lab_audit_sql "SELECT host, server, error FROM requests WHERE decision = 'denied' ORDER BY id")" \
	"denied audit rows (host|server|error)"
lab_stop_sluice
