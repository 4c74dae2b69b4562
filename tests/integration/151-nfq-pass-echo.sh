#!/bin/bash
# --nfqueue: an allowed non-HTTP service (a TCP echo server on another
# port) passes untouched: the server sees the client's own address (not
# sluice's), the bytes come back as sent, and nothing is audited as
# denied.  The verdict sticks to the flow: G's conntrack entry carries
# the intercept mark (0x200, which nat only redirects for port 443).  A
# port no rule allows is still refused (default deny).
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (4, '*', $NFQ_ECHO_PORT, 'allow')" ||
	fail "inserting the allow rule"
nfq_start_sluice --default-policy deny

assert_eq "ok $LAB_C4" "$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT" | sed 's/:[0-9]*$//')" \
	"the echo service over IPv4, and the peer it saw"
assert_eq "ok $LAB_C6" "$(nfq_connect -6 "$LAB_U6" "$NFQ_ECHO_PORT" | sed 's/:[0-9]*$//')" \
	"the echo service over IPv6, and the peer it saw"
ct=$(lab_in_g cat /proc/net/nf_conntrack | grep "dst=$LAB_U4 .*dport=$NFQ_ECHO_PORT " | head -n 1)
assert_contains "$ct" "mark=512 " "G's conntrack entry for the echo flow"
out=$(nfq_connect "$LAB_U4" 22)
assert_eq refused "${out%% *}" "port 22, which no rule allows ($out)"

assert_eq 1 "$(lab_audit_wait 1 "decision = 'denied'")" "denied rows (port 22 only)"
assert_eq "$LAB_U4:22||" "$(lab_audit_sql "SELECT server, rule_id, host FROM requests")" \
	"the only audit row: port 22, by the default policy, no name"
lab_stop_sluice
