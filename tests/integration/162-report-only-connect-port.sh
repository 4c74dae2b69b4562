#!/bin/bash
# --report-only and CONNECT: a CONNECT to a port the rules do not open
# (here by deny rule 3, and by the default deny) gets its 200; the CONNECT
# is audited 'would_deny' with the rule that would have refused it, and the
# request inside is forwarded to the upstream and audited 'would_deny' too.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (3, 'evil.test', 8443, 'deny')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny --report-only \
	--resolve "evil.test:8443:$LAB_U4:443" --resolve "api.test:8443:$LAB_U4:443"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
status() { lab_curl -p -x "$proxy" -o /dev/null -w '%{http_connect} %{http_code}' "$1" 2>/dev/null; }
assert_eq "200 200" "$(status https://evil.test:8443/echo/e)" "evil.test:8443 (rule 3 would deny)"
assert_eq "200 200" "$(status https://api.test:8443/echo/a)" "api.test:8443 (the default would deny)"
assert_eq 2 "$(lab_upstream_hits /echo/)" "requests the upstream got"

assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
assert_eq "evil.test|CONNECT||3
evil.test|GET|/echo/e|3
api.test|CONNECT||
api.test|GET|/echo/a|" \
	"$(lab_audit_sql "SELECT host, method, ifnull(path, ''), ifnull(rule_id, '') FROM requests
		WHERE decision = 'would_deny' ORDER BY id")" \
	"would_deny rows (host|method|path|rule_id)"
lab_stop_sluice
