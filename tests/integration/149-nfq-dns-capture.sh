#!/bin/bash
# --nfqueue with --dns-capture, the alternative for rulesets that queue flows
# but not DNS answers: the name comes from a libpcap capture of the answers
# sent out of the LAN interface, and decides the flow (default deny, a rule
# on the name only).  With --dns-capture sluice reads no queued answer, so
# the capture is the only way the name can have been learned.  It reads
# beside the client, so the test polls for the learned name (the race that
# queued answers do not have).
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_dns_up "api.test=$LAB_U4"
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (5, 'api.test', 'allow')" ||
	fail "inserting the allow rule"

status() {
	lab_in_c curl -sS -4 --max-time 5 --cacert "$LAB_DIR/ica/ca.crt" -o /dev/null \
		-w '%{http_code}' https://api.test/echo 2>/dev/null
}

nfq_start_sluice --default-policy deny --dns-capture "$LAB_IF_GL"
nfq_resolve api.test
learned() { [ "$(status)" = 200 ]; }
lab_poll 3000 learned >/dev/null || fail "a flow to api.test was not allowed by its captured name"
assert_eq "forwarded|5" "$(lab_audit_wait 1 "decision = 'forwarded'" >/dev/null
	lab_audit_sql "SELECT decision, rule_id FROM requests WHERE decision = 'forwarded' LIMIT 1")" \
	"the intercepted request's audit row"
lab_stop_sluice

