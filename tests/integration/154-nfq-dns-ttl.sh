#!/bin/bash
# --nfqueue with --dns-capture: a name learned from a DNS answer that the
# client got through the gateway decides the verdict for that address, and
# stops deciding once the answer's TTL has passed.
. "$(dirname "$0")/../lab/lab.sh"
NFQ_DNS_TTL=2
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
nfq_dns_up "echo.test=$LAB_U4"
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (8, 'echo.test', $NFQ_ECHO_PORT, 'allow')" ||
	fail "inserting the allow rule"
nfq_start_sluice --default-policy deny --dns-capture "$LAB_IF_GL"

out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "before any lookup, $LAB_U4 has no name ($out)"
out=$(nfq_connect echo.test "$NFQ_ECHO_PORT")
assert_eq "ok $LAB_C4" "${out%:*}" "echo.test, looked up through the gateway ($out)"
assert_contains "$(cat "$LAB_DIR/dns.log")" "echo.test 1 -> 1 answers" "the client's lookup"
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq ok "${out%% *}" "the address, within the answer's TTL ($out)"
sleep $((NFQ_DNS_TTL + 1))
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "the address, after the answer's TTL ($out)"

lab_stop_sluice
assert_eq "2|" "$(lab_audit_sql "SELECT sum(c.flows), group_concat(r.host)
	FROM requests r JOIN connections c ON r.conn_id = c.id WHERE r.decision = 'denied'")" \
	"denied flows audited (sum of flows|names)"
