#!/bin/bash
# sluice marks its own upstream sockets (SO_MARK NETMARK_UPSTREAM, 0x100):
# with an OUTPUT REDIRECT that sends the gateway's own HTTPS to sluice and
# lets marked packets through, a request made on the gateway is intercepted
# once and reaches the upstream, instead of sluice redirecting its own
# upstream connection back to itself until it runs out of connections.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_in_g sh -ec "
	iptables -t nat -A OUTPUT -m mark --mark 0x100/0x100 -j RETURN
	iptables -t nat -A OUTPUT -p tcp -d $LAB_U4 --dport 443 -j REDIRECT --to-ports $LAB_PROXY_PORT" ||
	fail "adding the OUTPUT REDIRECT"
lab_start_sluice --default-policy allow --max-connections 64

out=$(lab_in_g curl -sS -4 --cacert "$LAB_DIR/ica/ca.crt" --max-time 20 -o "$LAB_DIR/body" \
	-w '%{http_code}' 'https://api.test/echo?from=gateway') || fail "curl on the gateway failed: $out"
assert_eq 200 "$out" "status of a GET made on the gateway itself"
assert_eq "/echo?from=gateway" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path the upstream saw"
assert_eq 1 "$(lab_upstream_hits /echo)" "requests the upstream received"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows: one interception, no loop"
assert_eq "forwarded|$LAB_U4:443" "$(lab_audit_sql 'SELECT decision, server FROM requests')" \
	"audit row (decision|server)"
grep -q 'limit of' "$LAB_DIR/sluice.log" && fail "sluice reached its connection limit"
lab_stop_sluice
