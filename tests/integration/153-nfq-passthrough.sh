#!/bin/bash
# --nfqueue: a pinned (passthrough) host's flow is
# intercepted like any other and relayed untouched by sluice's own
# passthrough, bound to its SNI: the client sees the upstream's real
# certificate, and the audit has one passthrough row for pinned.test with
# the address sluice dialled; an intercepted host next to it still gets a
# forged leaf.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
# Two addresses, so that each has one name (the table keeps one per address).
nfq_dns_up "pinned.test=$LAB_U4" "api.test=$LAB_U6"
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES
	(6, 'pinned.test', 'passthrough'), (7, 'api.test', 'allow')" || fail "inserting the rules"
nfq_start_sluice --default-policy deny
nfq_resolve pinned.test api.test
assert_contains "$(cat "$LAB_DIR/sluice.log")" "no --dns-trust: names are learned from any resolver" \
	"the warning at start, without --dns-trust"

out=$(lab_in_c curl -sS -4 --max-time 30 --cacert "$LAB_DIR/certs/ca.crt" \
	-o /dev/null -w '%{http_code}\n%{certs}' "https://pinned.test/echo?via=pinned") ||
	fail "curl to pinned.test trusting only the upstream's CA failed"
assert_eq 200 "$(printf '%s\n' "$out" | head -n 1)" "status of the passthrough request"
printf '%s\n' "$out" | awk '/-----BEGIN CERTIFICATE-----/ { p = 1 }
	p { print } /-----END CERTIFICATE-----/ { exit }' >"$LAB_DIR/leaf.pem"
assert_eq "$(cert_subject "$LAB_DIR/certs/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate the client saw for pinned.test"

code=$(lab_cert_of "$LAB_DIR/leaf6.pem" -6 https://api.test/echo)
assert_eq 200 "$code" "status of the intercepted request to api.test"
assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf6.pem")" \
	"issuer of the certificate the client saw for api.test"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows: pinned.test's connection and api.test's request"
lab_stop_sluice
assert_eq "passthrough|6|pinned.test|$LAB_U4:443|
forwarded|7|api.test|[$LAB_U6]:443|" \
	"$(lab_audit_sql "SELECT decision, rule_id, sni, server, ifnull(error, '')
	FROM requests ORDER BY sni DESC")" \
	"the audit rows (decision|rule|sni|server|error)"
assert_eq 1 "$(lab_upstream_hits "/echo?via=pinned")" "requests at the upstream for pinned.test"
