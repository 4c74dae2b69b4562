#!/bin/bash
# TPROXY mode (sluice-netfilter up --tproxy, sluice --tproxy): HTTPS from
# the LAN, IPv4 and IPv6, is intercepted with a leaf forged by sluice's CA,
# the rules decide, and the audit has the real destination.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

TPORT=8445
lab_redirect_off
lab_netfilter up --lan "$LAB_IF_GL" --listen-port "$TPORT" --tproxy ||
	fail "sluice-netfilter up --tproxy failed"
# Nothing left to REDIRECT: only TPROXY can bring a client to sluice.
lab_in_g iptables -t nat -S SLUICE-PREROUTING >/dev/null 2>&1 &&
	fail "the REDIRECT chain is still installed in TPROXY mode"

lab_rules_sql "INSERT INTO rules (id, priority, host, path, action)
	VALUES (4, 10, 'api.test', '/secret*', 'deny');
	INSERT INTO rules (id, priority, host, action) VALUES (5, 20, 'api.test', 'allow');" ||
	fail "inserting rules"
lab_start_sluice --default-policy deny --tproxy "[::]:$TPORT"
lab_wait_listen "$LAB_G" "$TPORT" || fail "no --tproxy listener on $TPORT"

for fam in 4 6; do
	if [ $fam = 4 ]; then server="$LAB_U4:443" client="$LAB_C4:"
	else server="[$LAB_U6]:443" client="[$LAB_C6]:"; fi
	n=$(lab_upstream_hits /echo)
	code=$(lab_cert_of "$LAB_DIR/leaf$fam.pem" -$fam "https://api.test/echo?fam=$fam")
	assert_eq 200 "$code" "IPv$fam: status of an allowed GET through TPROXY"
	assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf$fam.pem")" \
		"IPv$fam: issuer of the leaf the client saw"
	assert_contains "$(cert_san "$LAB_DIR/leaf$fam.pem")" "DNS:api.test" "IPv$fam: SAN of the leaf"
	assert_eq $((n + 1)) "$(lab_upstream_hits /echo)" "IPv$fam: requests the upstream received"

	code=$(lab_curl -$fam -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/secret/x) ||
		fail "IPv$fam: curl failed"
	assert_eq 403 "$code" "IPv$fam: status of a request deny rule 4 matches"
	assert_eq 4 "$(lab_json "$(cat "$LAB_DIR/body")" 'd["rule"]')" "IPv$fam: rule in the 403 body"
	assert_eq 0 "$(lab_upstream_hits /secret)" "IPv$fam: denied requests that reached the upstream"

	# The audit writer is asynchronous: wait for both rows first.
	assert_eq 2 "$(lab_audit_wait 2 "path IN ('/echo?fam=$fam', '/secret/x') AND
		server = '$server'")" "IPv$fam: audit rows"
	row=$(lab_audit_sql "SELECT decision, server, client FROM requests
		WHERE path = '/echo?fam=$fam'")
	IFS='|' read -r decision srv cli <<<"$row"
	assert_eq "forwarded|$server" "$decision|$srv" "IPv$fam: audit row (decision|server)"
	[[ $cli == "$client"[0-9]* ]] || fail "IPv$fam: audit client '$cli' is not ${client}PORT"
	assert_eq "denied|4|$server" "$(lab_audit_sql "SELECT decision, rule_id, server FROM requests
		WHERE path = '/secret/x' AND server = '$server'")" "IPv$fam: audit row of the denial"
done
lab_stop_sluice
