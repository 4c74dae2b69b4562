#!/bin/bash
# --nfqueue: a TCP flow to a denied address:port is reset at once (the
# client does not wait for a timeout), never reaches the upstream, and is
# one audit row: decision 'denied', no method or path, its server, client
# and rule, with a connections row saying tcp and the port.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (3, '$LAB_U4', $NFQ_ECHO_PORT, 'deny')" ||
	fail "inserting the deny rule"
nfq_start_sluice --default-policy allow

out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
read -r what ms <<<"$out"
assert_eq refused "$what" "connecting to the denied $LAB_U4:$NFQ_ECHO_PORT ($out)"
[ "$ms" -lt 1000 ] || fail "the refusal took $ms ms: not a reset"
out=$(nfq_connect -6 "$LAB_U6" "$NFQ_ECHO_PORT")
assert_eq ok "${out%% *}" "IPv6 to the same port, which no rule denies ($out)"

assert_eq 1 "$(lab_audit_wait 1 "decision = 'denied'")" "denied rows"
row=$(lab_audit_sql "SELECT decision, rule_id, quote(method), quote(path), server, client
	FROM requests WHERE decision = 'denied'")
IFS='|' read -r decision rule method path server client <<<"$row"
assert_eq "denied|3|NULL|NULL|$LAB_U4:$NFQ_ECHO_PORT" "$decision|$rule|$method|$path|$server" \
	"the flow's row (decision|rule_id|method|path|server)"
case $client in
"$LAB_C4":[0-9]*) ;;
*) fail "client '$client' is not $LAB_C4:PORT" ;;
esac
lab_stop_sluice
assert_eq "tcp|$NFQ_ECHO_PORT|1|denied" "$(lab_audit_sql "SELECT c.proto, c.port, c.flows, c.end_reason
	FROM connections c JOIN requests r ON r.conn_id = c.id WHERE r.decision = 'denied'")" \
	"the flow's connections row (proto|port|flows|end_reason)"
