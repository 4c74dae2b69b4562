#!/bin/bash
# Every client connection is a row in connections, and the requests it
# carried name it (requests.conn_id): an intercepted one with both TLS legs
# and the upstream's certificate, one whose upstream fails verification, a
# passthrough tunnel, and a client that gives up in the handshake.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy allow

code=$(lab_curl -o /dev/null -o /dev/null -w '%{http_code}' https://api.test/echo https://api.test/bytes/1000) ||
	fail "curl to api.test failed"
assert_eq 200200 "$code" "two requests on one connection"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://untrusted.test/echo) ||
	fail "curl to untrusted.test failed"
assert_eq 502 "$code" "status when the upstream certificate does not verify"
lab_in_c curl -sS -4 --max-time 30 --cacert "$LAB_DIR/certs/ca.crt" -o /dev/null \
	https://pinned.test/echo || fail "passthrough curl failed"
# Trusting only the upstream CA: the client refuses sluice's certificate.
lab_in_c curl -sS -4 --max-time 30 --cacert "$LAB_DIR/certs/ca.crt" -o /dev/null \
	https://other.test/echo 2>/dev/null && fail "other.test verified without sluice's CA"
lab_stop_sluice

assert_eq 4 "$(lab_audit_sql "SELECT count(*) FROM connections")" "connection rows"
assert_eq "2|1" "$(lab_audit_sql "SELECT count(*), count(DISTINCT r.conn_id) FROM requests r
	JOIN connections c ON c.id = r.conn_id WHERE r.host = 'api.test'")" \
	"both api.test requests name the one connection"
row=$(lab_audit_sql "SELECT sni, server = '$LAB_U4:443', tls_version, cipher <> '', alpn,
	upstream_tls_version, upstream_cipher <> '', upstream_subject, upstream_issuer <> '',
	verify_result, bytes_out >= 1000, end_reason, ended >= started, started LIKE '____-__-__T__:__:__.___Z'
	FROM connections WHERE sni = 'api.test'")
assert_eq "api.test|1|TLSv1.3|1|http/1.1|TLSv1.3|1|/O=sluice tests/CN=api.test|1|ok|1|closed|1|1" "$row" \
	"the intercepted connection's row"
row=$(lab_audit_sql "SELECT c.verify_result <> 'ok', c.upstream_subject, r.status
	FROM connections c JOIN requests r ON r.conn_id = c.id WHERE c.sni = 'untrusted.test'")
assert_eq "1|/O=sluice tests/CN=untrusted.test|502" "$row" "the failed verification's row"
row=$(lab_audit_sql "SELECT c.tls_version IS NULL, c.end_reason, c.bytes_in > 0, c.bytes_out > 0,
	r.decision FROM connections c JOIN requests r ON r.conn_id = c.id WHERE c.sni = 'pinned.test'")
assert_eq "1|tunnel_closed|1|1|passthrough" "$row" "the passthrough connection's row"
row=$(lab_audit_sql "SELECT tls_version IS NULL, end_reason FROM connections WHERE sni = 'other.test'")
assert_eq "1|handshake_failed" "$row" "the failed handshake's row"
