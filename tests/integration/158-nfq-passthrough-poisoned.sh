#!/bin/bash
# --nfqueue: a passthrough rule is no way out for a
# client that poisons the name.  The client's resolver says pinned.test is
# the untrusted upstream ($LAB_UX4), and sluice learns that; the flow is
# intercepted all the same, and sluice's own passthrough dials only an
# address pinned.test resolves to in G ($LAB_U4): the untrusted upstream
# sees nothing, and the audit row says where the client wanted to go.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_dns_up "pinned.test=$LAB_UX4"
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (6, 'pinned.test', 'passthrough')" ||
	fail "inserting the rule"
nfq_start_sluice --default-policy deny
nfq_resolve pinned.test

# -k: whatever answers, the client would talk to it.
code=$(lab_in_c curl -sS -4 -k --max-time 30 -o /dev/null -w '%{http_code}' \
	'https://pinned.test/echo?via=poisoned') || fail "curl to pinned.test failed"
assert_contains "$(cat "$LAB_DIR/dns.log")" "pinned.test 1 -> 1 answers" "the client's lookup"
assert_eq 200 "$code" "status of the passthrough request"
assert_eq "" "$(cat "$LAB_REQLOG_X")" "what the poisoned address ($LAB_UX4) logged"
assert_eq 1 "$(lab_upstream_hits "/echo?via=poisoned")" "requests at pinned.test's real address"

lab_stop_sluice
assert_eq "passthrough|6|pinned.test|$LAB_U4:443|client's destination $LAB_UX4:443 is not an address of pinned.test; dialled $LAB_U4:443" \
	"$(lab_audit_sql "SELECT decision, rule_id, sni, server, error FROM requests")" \
	"the audit row (decision|rule|sni|server|error)"
