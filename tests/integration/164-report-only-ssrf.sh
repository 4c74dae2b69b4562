#!/bin/bash
# --report-only does not open the SSRF guard: a CONNECT to the gateway's own
# address is still refused (403, 'denied'), and its service sees nothing,
# while a CONNECT only the default policy would refuse goes through.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_gateway_service
lab_start_sluice --default-policy deny --report-only --resolve "api.test:8443:$LAB_U4:443"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
status() { lab_curl -k -p -x "$proxy" -o /dev/null -w '%{http_connect} %{http_code}' "$1" 2>/dev/null; }
assert_eq "403 000" "$(status "https://$LAB_GL4/echo")" "CONNECT to the gateway's own address"
assert_eq "200 200" "$(status https://api.test:8443/echo)" "CONNECT only the default policy refuses"
assert_eq "" "$(cat "$LAB_REQLOG_G")" "what the gateway's own service logged"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'denied'")" "denied audit rows"
assert_eq "CONNECT|$LAB_GL4:443|403" \
	"$(lab_audit_sql "SELECT method, server, status FROM requests WHERE decision = 'denied'")" \
	"the denied row (method|server|status)"
lab_stop_sluice
