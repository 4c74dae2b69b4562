#!/bin/bash
# --nfqueue --report-only: a flow a rule denies goes through, and is
# audited as 'would_deny' (with its rule, server and port).
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (9, '$LAB_U4', $NFQ_ECHO_PORT, 'deny')" ||
	fail "inserting the deny rule"
nfq_start_sluice --default-policy deny --report-only

out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq "ok $LAB_C4" "${out%:*}" "the denied echo service in report-only mode ($out)"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'would_deny'")" "would_deny rows"
assert_eq "9|$LAB_U4:$NFQ_ECHO_PORT|NULL" \
	"$(lab_audit_sql "SELECT rule_id, server, quote(method) FROM requests WHERE decision = 'would_deny'")" \
	"the would_deny row (rule_id|server|method)"
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'denied'")" "denied rows"
lab_stop_sluice
assert_eq "tcp|$NFQ_ECHO_PORT" "$(lab_audit_sql "SELECT c.proto, c.port FROM connections c
	JOIN requests r ON r.conn_id = c.id WHERE r.decision = 'would_deny'")" \
	"the would_deny flow's connections row (proto|port)"
