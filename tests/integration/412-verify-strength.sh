#!/bin/bash
# An upstream certificate must be for a TLS server and as strong as
# OpenSSL's security level 2, and the server must speak TLS 1.2 or newer:
# an extendedKeyUsage of clientAuth only, an RSA-1024 key, a SHA-1
# signature or a TLS 1.1 server is a 502, and nothing is sent.
. "$(dirname "$0")/../lab/lab.sh"
lab_verify_up
proxy=http://$LAB_GL4:$LAB_CONNECT_PORT

for via in "" --proxy --http2; do
	args=()
	[ "$via" = --proxy ] && args=(--proxy "$proxy")
	[ "$via" = --http2 ] && args=(--http2)
	lab_verify_case eku-client.test 502 "unsuitable certificate purpose" "${args[@]}"
	lab_verify_case rsa1024.test 502 "EE certificate key too weak" "${args[@]}"
	lab_verify_case sha1.test 502 "CA signature digest algorithm too weak" "${args[@]}"
done

# TLS 1.1 at most: the handshake fails before any certificate.
code=$(lab_curl -D "$LAB_DIR/head" -o "$LAB_DIR/body" -w '%{http_code}' \
	'https://tls11.test/headers?X-Upstream-Marker=leaked-old') || fail "curl tls11.test failed"
assert_eq 502 "$code" "status for a TLS 1.1 upstream"
assert_eq "upstream TLS handshake failed" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["reason"]')" \
	"502 reason for a TLS 1.1 upstream"
assert_not_contains "$(cat "$LAB_DIR/head" "$LAB_DIR/body")" leaked-old "502 for a TLS 1.1 upstream"
seen='("refused" if "UNSUPPORTED_PROTOCOL" in d.get("tls", "") else d["event"])'
assert_eq refused "$(lab_jsonl "$LAB_REQLOG_VFY" \
	"$seen if d['listen'] == '$LAB_VFY_OLD4:443' else None")" \
	"what the TLS 1.1 upstream saw (a refused handshake, no request)"
lab_log_wait 'event=upstream_failed .*sni=tls11.test .*err="upstream TLS handshake failed"' >/dev/null ||
	fail "no event=upstream_failed line for tls11.test"
assert_eq 10 "$(lab_audit_wait 10 "conn_id IN (SELECT id FROM connections)")" "audit rows"
assert_eq "error|502|" "$(lab_audit_sql "SELECT r.decision, r.status, quote(c.verify_result) = 'NULL'
	FROM requests r JOIN connections c ON c.id = r.conn_id WHERE r.host = 'tls11.test'" | sed 's/1$//')" \
	"audit of tls11.test (decision|status|verify_result empty)"
lab_stop_sluice
