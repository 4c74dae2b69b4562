#!/bin/bash
# --nfqueue: a client retrying a denied destination in a loop is one audit
# row while it retries, plus one row at the end of the window (or at
# shutdown) standing for the rest (connections.flows), so the audit cannot
# be flooded and no attempt goes uncounted.  Each flow is still refused.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (10, '$LAB_U4', 2223, 'deny')" ||
	fail "inserting the deny rule"
nfq_start_sluice --default-policy allow

out=$(lab_in_c "$LAB_PY" -c '
import socket, sys
refused = 0
for i in range(200):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((sys.argv[1], 2223))
    except ConnectionRefusedError:
        refused += 1
    s.close()
print(refused)' "$LAB_U4")
assert_eq 200 "$out" "connections refused out of 200"
sleep 1
assert_eq 1 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'denied'")" \
	"denied rows while the storm's window is open"
lab_stop_sluice
assert_eq "2|200" "$(lab_audit_sql "SELECT count(*), sum(c.flows) FROM requests r
	JOIN connections c ON r.conn_id = c.id WHERE r.decision = 'denied'")" \
	"denied rows after shutdown | the flows they stand for"
assert_contains "$(lab_audit_sql "SELECT error FROM requests WHERE error IS NOT NULL")" \
	"199 more flows" "the second row says what it stands for"
