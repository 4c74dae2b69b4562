#!/bin/bash
# --dns-trust: names are learned only from the answers of the resolvers it
# names.  The same answer (echo.test is $LAB_U4) from a second resolver in
# U ($LAB_UX4) teaches sluice nothing; from the trusted one ($LAB_U4), it
# decides the flow.  No warning about untrusted resolvers at start.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
nfq_dns_up "echo.test=$LAB_U4"
ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/dns.py" --listen "$LAB_UX4" \
	--name "echo.test=$LAB_U4" >>"$LAB_DIR/dns-other.log" 2>&1 &
LAB_PIDS+=($!)
disown $!
lab_poll 5000 lab_in_u sh -c "ss -Hlun 'src $LAB_UX4 and sport = :53' | grep -q ." >/dev/null ||
	fail "the second dns.py did not start"
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES (8, 'echo.test', $NFQ_ECHO_PORT, 'allow')" ||
	fail "inserting the allow rule"
nfq_start_sluice --default-policy deny --dns-trust "$LAB_U4"
assert_not_contains "$(cat "$LAB_DIR/sluice.log")" "no --dns-trust" "sluice's log"

out=$(lab_in_c "$LAB_PY" -c '
import socket, struct, sys
q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in ("echo", "test")) + b"\0"
q += struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (sys.argv[1], 53))
print(socket.inet_ntoa(s.recv(512)[-4:]))' "$LAB_UX4") || fail "asking $LAB_UX4 for echo.test"
assert_eq "$LAB_U4" "$out" "the untrusted resolver's answer, as the client got it"
assert_contains "$(cat "$LAB_DIR/dns-other.log")" "echo.test 1 -> 1 answers" "the untrusted resolver's log"
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq refused "${out%% *}" "after an answer from the untrusted resolver ($out)"

nfq_resolve echo.test
out=$(nfq_connect echo.test "$NFQ_ECHO_PORT")
assert_eq "ok $LAB_C4" "${out%:*}" "echo.test, looked up through the trusted resolver ($out)"
out=$(nfq_connect "$LAB_U4" "$NFQ_ECHO_PORT")
assert_eq ok "${out%% *}" "the address, learned from the trusted resolver ($out)"
lab_stop_sluice
