#!/bin/bash
# A CONNECT host that does not resolve gets a 502 (NXDOMAIN, SERVFAIL) or,
# when no answer comes within the handshake timeout, a 504; each with a JSON
# body naming the reason and an 'error' audit row.  G asks tests/lab/dns.py
# in U (names under servfail.test: SERVFAIL; under timeout.test: silence).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/dns.py" --listen "$LAB_U4" \
	>>"$LAB_DIR/dns.log" 2>&1 &
LAB_PIDS+=($!)
disown $!
printf 'nameserver %s\n' "$LAB_U4" >"/etc/netns/$LAB_G/resolv.conf" ||
	fail "writing G's resolv.conf"
for ((i = 0; i < 50; i++)); do
	[ "$(lab_in_u ss -Hlun "sport = :53" | wc -l)" -gt 0 ] && break
	sleep 0.1
done
lab_start_sluice --default-policy allow --handshake-timeout 2

# check HOST STATUS-LINE ERROR REASON
check() {
	local out body
	out=$(lab_connect_answer "$1:443") || fail "CONNECT $1: client failed"
	assert_eq "$2" "$(printf '%s\n' "$out" | head -n 1)" "status line for CONNECT $1"
	body=$(printf '%s\n' "$out" | tail -n +2)
	assert_eq "$3" "$(lab_json "$body" 'd["error"]')" "error for CONNECT $1"
	assert_eq "$4" "$(lab_json "$body" 'd["reason"]')" "reason for CONNECT $1"
}
check nx.test "HTTP/1.1 502 Bad Gateway" bad_gateway "cannot resolve nx.test: no such name (NXDOMAIN)"
check a.servfail.test "HTTP/1.1 502 Bad Gateway" bad_gateway \
	"cannot resolve a.servfail.test: lookup failed (SERVFAIL or no answer)"
check a.timeout.test "HTTP/1.1 504 Gateway Timeout" gateway_timeout \
	"resolving the CONNECT host timed out"

assert_eq 3 "$(lab_audit_wait 3 "decision = 'error'")" "error audit rows"
assert_eq "CONNECT|nx.test|502|nx.test:443|cannot resolve nx.test: no such name (NXDOMAIN)
CONNECT|a.servfail.test|502|a.servfail.test:443|cannot resolve a.servfail.test: lookup failed (SERVFAIL or no answer)
CONNECT|a.timeout.test|504|a.timeout.test:443|resolving the CONNECT host timed out" \
	"$(lab_audit_sql "SELECT method, host, status, server, error FROM requests WHERE decision = 'error' ORDER BY id")" \
	"error audit rows (method|host|status|server|error)"
lab_stop_sluice
