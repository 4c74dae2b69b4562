#!/bin/bash
# A client that speaks HTTP/2 (curl --http2, and --http2-prior-knowledge
# over TLS) negotiates h2 with sluice; its GET reaches the HTTP/1.1
# upstream and the body comes back on its stream; the request is audited as
# one row, the connection with ALPN h2.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

for how in --http2 --http2-prior-knowledge; do
	out=$(lab_curl "$how" -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
		"https://api.test/echo?from=290$how") || fail "curl $how through sluice failed"
	assert_eq "200 2" "$out" "status and HTTP version of GET with curl $how"
	body=$(cat "$LAB_DIR/body")
	assert_eq "/echo?from=290$how" "$(lab_json "$body" 'd["path"]')" "path the upstream saw ($how)"
	assert_eq api.test "$(lab_json "$body" '[v for k, v in d["headers"] if k.lower() == "host"][0]')" \
		"Host header the upstream saw ($how)"
done

assert_eq 2 "$(lab_audit_wait 2)" "audit rows after two requests"
assert_eq "forwarded|200|api.test|GET|/echo?from=290--http2" \
	"$(lab_audit_sql "SELECT decision, status, host, method, path FROM requests ORDER BY id LIMIT 1")" \
	"first audit row (decision|status|host|method|path)"
lab_stop_sluice
assert_eq "h2|h2" "$(lab_audit_sql "SELECT group_concat(alpn, '|') FROM connections")" \
	"ALPN of the two connections"
