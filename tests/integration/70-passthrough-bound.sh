#!/bin/bash
# A passthrough rule is bound to its name, not to the address the client
# chose: a client that sends the SNI of a passthrough host to another
# address (here the untrusted upstream) is tunnelled to an address that G
# resolves the name to (the trusted upstream), and the audit row says so.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy deny --handshake-timeout 4

# G's hosts file says pinned.test is $LAB_U4; the client dials $LAB_UX4.
# -k: whatever answers, the client would talk to it.
code=$(lab_in_c curl -sS -4 -k --max-time 30 --resolve "pinned.test:443:$LAB_UX4" \
	-o "$LAB_DIR/body" -w '%{http_code}' 'https://pinned.test/echo?via=bypass') ||
	fail "curl to pinned.test at $LAB_UX4 failed"
assert_eq 200 "$code" "status of the passthrough request"
assert_eq "/echo?via=bypass" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path the upstream saw"
assert_eq "" "$(cat "$LAB_REQLOG_X")" "what the untrusted upstream ($LAB_UX4) logged"
assert_eq 1 "$(lab_upstream_hits /echo?via=bypass)" "requests at the trusted upstream"

# A client that chose a right address keeps it.
code=$(lab_in_c curl -sS -4 --max-time 30 --cacert "$LAB_DIR/certs/ca.crt" \
	-o /dev/null -w '%{http_code}' 'https://pinned.test/echo?via=right') || fail "curl to pinned.test failed"
assert_eq 200 "$code" "status of the passthrough request to the right address"

# A passthrough name that does not resolve in G is refused, not tunnelled.
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (4, 'nowhere.test', 'passthrough')" ||
	fail "inserting the second passthrough rule"
sleep 3
lab_in_c curl -sS -4 -k --max-time 30 --resolve "nowhere.test:443:$LAB_UX4" \
	-o /dev/null https://nowhere.test/echo 2>/dev/null &&
	fail "a passthrough name that does not resolve was tunnelled"
assert_eq "" "$(cat "$LAB_REQLOG_X")" "what the untrusted upstream logged after nowhere.test"

lab_stop_sluice
assert_eq "passthrough|3|$LAB_U4:443|client's destination $LAB_UX4:443 is not an address of pinned.test; dialled $LAB_U4:443
passthrough|3|$LAB_U4:443|" \
	"$(lab_audit_sql "SELECT decision, rule_id, server, ifnull(error, '') FROM requests WHERE sni = 'pinned.test' ORDER BY id")" \
	"audit rows for pinned.test (decision|rule_id|server|error)"
row=$(lab_audit_sql "SELECT decision, rule_id, server, error FROM requests WHERE sni = 'nowhere.test'")
assert_contains "$row" "denied|4|$LAB_UX4:443|passthrough: nowhere.test:" "audit row for nowhere.test"
