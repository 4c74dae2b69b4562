#!/bin/bash
# The SSRF guard, CONNECT mode: CONNECT to 127.0.0.1, [::1], the gateway's
# own LAN address, or a name that resolves to loopback gets a 403 with a
# JSON reason and a 'denied' audit row; the service on the gateway never
# sees a connection.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_gateway_service
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, '*', 'allow')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy allow

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
for url in https://127.0.0.1/echo 'https://[::1]/echo' "https://$LAB_GL4/echo" \
	https://localhost/echo; do
	code=$(lab_curl -k -p -x "$proxy" -o /dev/null -w '%{http_connect}' "$url" 2>/dev/null)
	assert_eq 403 "$code" "CONNECT status for $url"
done
# The body of one refusal, read raw.
body=$(lab_connect_answer 127.0.0.1:443) || fail "raw CONNECT failed"
assert_eq "HTTP/1.1 403 Forbidden" "$(printf '%s\n' "$body" | head -n 1)" "status line of a refused CONNECT"
b=$(printf '%s\n' "$body" | tail -n +2)
assert_eq denied "$(lab_json "$b" 'd["error"]')" "error of a refused CONNECT"
assert_eq "destination 127.0.0.1 is a loopback address" "$(lab_json "$b" 'd["reason"]')" "reason of a refused CONNECT"

assert_eq "" "$(cat "$LAB_REQLOG_G")" "what the gateway's own service logged"
assert_eq 5 "$(lab_audit_wait 5 "decision = 'denied'")" "denied audit rows"
assert_eq "CONNECT|127.0.0.1|403|127.0.0.1:443|destination 127.0.0.1 is a loopback address
CONNECT|::1|403|[::1]:443|destination ::1 is a loopback address
CONNECT|$LAB_GL4|403|$LAB_GL4:443|destination $LAB_GL4 is an address of the gateway itself" \
	"$(lab_audit_sql "SELECT method, host, status, server, error FROM requests WHERE decision = 'denied' ORDER BY id LIMIT 3")" \
	"denied audit rows (method|host|status|server|error)"
# localhost is 127.0.0.1 and ::1 in G's hosts file; either is refused.
row=$(lab_audit_sql "SELECT method, host, status, error FROM requests WHERE decision = 'denied' ORDER BY id LIMIT 1 OFFSET 3")
case $row in
"CONNECT|localhost|403|destination 127.0.0.1 is a loopback address" | \
"CONNECT|localhost|403|destination ::1 is a loopback address") ;;
*) fail "audit row for CONNECT localhost: $row" ;;
esac
lab_stop_sluice
