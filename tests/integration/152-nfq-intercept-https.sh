#!/bin/bash
# --nfqueue: HTTPS to a host a rule allows, looked up by
# the client through the gateway, is intercepted (the client is shown a
# leaf forged by the lab's interception CA, and sluice audits the request);
# with the default policy deny, the name learned from the answer is what
# allowed the flow.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_dns_up "api.test=$LAB_U4" "api.test=$LAB_U6"
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (5, 'api.test', 'allow')" ||
	fail "inserting the allow rule"
nfq_start_sluice --default-policy deny

nfq_resolve api.test
code=$(lab_cert_of "$LAB_DIR/leaf.pem" https://api.test/echo)
assert_eq 200 "$code" "status of GET https://api.test/echo"
assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate the client saw"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'forwarded'")" "forwarded rows"
assert_eq "forwarded|5|api.test|/echo" \
	"$(lab_audit_sql "SELECT decision, rule_id, sni, path FROM requests WHERE decision = 'forwarded'")" \
	"the request's audit row"
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'denied'")" \
	"denied rows"
assert_contains "$(cat "$LAB_DIR/dns.log")" "api.test 1 -> 1 answers" "the client's lookup through G"
lab_stop_sluice
