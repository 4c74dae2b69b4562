#!/bin/bash
# --nfqueue: a name learned from a DNS answer that the
# client got through the gateway decides the verdict for that address, and
# stops deciding once the answer's TTL has passed.  An answer the client
# forges itself (sent from its port 53) teaches sluice nothing, and that
# UDP flow, denied, is refused and audited as udp.
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
nfq_start_sluice --default-policy deny

out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "before any lookup, $LAB_U4 has no name ($out)"
lab_in_c "$LAB_PY" -c '
import socket, struct, sys
q = b"".join(bytes([len(l)]) + l.encode() for l in ("echo", "test")) + b"\0"
msg = struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0) + q + struct.pack("!HH", 1, 1)
msg += struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + socket.inet_aton(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
s.sendto(msg, (sys.argv[1], 5353))' "$LAB_U4" || fail "sending the forged answer"
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "after an answer the client forged ($out)"
nfq_resolve echo.test
out=$(nfq_connect echo.test "$NFQ_ECHO_PORT")
assert_eq "ok $LAB_C4" "${out%:*}" "echo.test, looked up through the gateway ($out)"
assert_contains "$(cat "$LAB_DIR/dns.log")" "echo.test 1 -> 1 answers" "the client's lookup"
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq ok "${out%% *}" "the address, within the answer's TTL ($out)"
sleep $((NFQ_DNS_TTL + 1))
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "the address, after the answer's TTL ($out)"

lab_stop_sluice
assert_eq "3|" "$(lab_audit_sql "SELECT sum(c.flows), group_concat(r.host)
	FROM requests r JOIN connections c ON r.conn_id = c.id
	WHERE r.decision = 'denied' AND c.proto = 'tcp'")" \
	"denied TCP flows audited (sum of flows|names)"
assert_eq "udp|5353|$LAB_U4:5353" "$(lab_audit_sql "SELECT c.proto, c.port, r.server
	FROM requests r JOIN connections c ON r.conn_id = c.id WHERE c.proto = 'udp'")" \
	"the forged answer's own flow (proto|port|server)"
