#!/bin/bash
# Every request row names the protocol of each leg: client_proto is the
# client's HTTP version ('http/1.1', 'http/1.0'), upstream_proto what the
# upstream leg negotiated ('http/1.1' when it answered no ALPN), and NULL
# for a leg the request never had: a denied request has no upstream leg.
# (curl offers "http/1.0" in ALPN with --http1.0, which sluice refuses:
# --no-alpn makes it a plain HTTP/1.0 client.)
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny

code=$(lab_curl --http1.1 -o /dev/null -w '%{http_code}' https://api.test/echo?v=11) ||
	fail "the HTTP/1.1 request failed"
assert_eq 200 "$code" "status of the HTTP/1.1 request"
code=$(lab_curl --http1.0 --no-alpn -o /dev/null -w '%{http_code}' https://api.test/echo?v=10) ||
	fail "the HTTP/1.0 request failed"
assert_eq 200 "$code" "status of the HTTP/1.0 request"
code=$(lab_curl --http1.1 -o /dev/null -w '%{http_code}' https://other.test/echo?v=denied) ||
	fail "the denied request failed"
assert_eq 403 "$code" "status of the request no rule allows"
assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
lab_stop_sluice

assert_eq "/echo?v=11|forwarded|'http/1.1'|'http/1.1'
/echo?v=10|forwarded|'http/1.0'|'http/1.1'
/echo?v=denied|denied|'http/1.1'|NULL" \
	"$(lab_audit_sql "SELECT path, decision, quote(client_proto), quote(upstream_proto)
		FROM requests ORDER BY id")" \
	"path|decision|client_proto|upstream_proto of each row"
