#!/bin/bash
# CONNECT to a port other than 443 is decided by the rules (their port) and
# then the default policy: refused with a 403 and a 'denied' audit row
# unless a rule allows that host and port.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (1, 'api.test', 443, 'allow');
	INSERT INTO rules (id, host, port, action) VALUES (2, 'other.test', 8443, 'allow');
	INSERT INTO rules (id, host, port, action) VALUES (3, 'evil.test', 8443, 'deny')" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny \
	--resolve "api.test:8443:$LAB_U4:443" --resolve "other.test:8443:$LAB_U4:443" \
	--resolve "evil.test:8443:$LAB_U4:443" --resolve "api.test:443:$LAB_U4"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
# status URL: "CONNECT-status request-status" through the proxy.
status() { lab_curl -p -x "$proxy" -o /dev/null -w '%{http_connect} %{http_code}' "$1" 2>/dev/null; }

assert_eq "200 200" "$(status https://other.test:8443/echo)" "other.test:8443 (rule 2 allows port 8443)"
assert_eq "403 000" "$(status https://api.test:8443/echo)" "api.test:8443 (rule 1 is for port 443 only)"
assert_eq "403 000" "$(status https://evil.test:8443/echo)" "evil.test:8443 (rule 3 denies)"
assert_eq "200 200" "$(status https://api.test/echo)" "api.test:443 (intercepted, rule 1)"

lab_stop_sluice
assert_eq "api.test|CONNECT|403||CONNECT to port 8443 of api.test is not allowed by the rules
evil.test|CONNECT|403|3|CONNECT to port 8443 of evil.test is not allowed by the rules" \
	"$(lab_audit_sql "SELECT host, method, status, ifnull(rule_id, ''), error FROM requests WHERE decision = 'denied' ORDER BY id")" \
	"denied audit rows (host|method|status|rule_id|error)"

# With --default-policy allow, a port no rule names is allowed.
LAB_SLUICE_PID=
lab_start_sluice --default-policy allow --resolve "pinned.test:8443:$LAB_U4:443"
assert_eq "200 200" "$(status https://pinned.test:8443/echo)" "pinned.test:8443 with the allow policy"
lab_stop_sluice
