#!/bin/bash
# A client whose ALPN list has neither http/1.1 nor h2 (only spdy/3.1) gets
# the no_application_protocol alert instead of a connection that would speak it
# to an HTTP/1.1 proxy, and the operator sees it: a warning and an 'error'
# audit row naming the protocols and the SNI.  A list with http/1.1 in it
# gets http/1.1; a client without ALPN is served as before.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# s_client ALPN-ARGS...: a TLS connection to api.test:443 from C (through
# the REDIRECT, over IPv4) that sends one GET /echo; prints everything s_client says.
s_client() {
	printf 'GET /echo HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n' |
		lab_in_c timeout 10 openssl s_client -4 -connect api.test:443 \
			-servername api.test -CAfile "$LAB_DIR/ica/ca.crt" \
			-ign_eof "$@" 2>&1
}

out=$(s_client -alpn spdy/3.1)
assert_contains "$out" "no application protocol" "s_client's output for -alpn spdy/3.1"
assert_not_contains "$out" "HTTP/1.1 200" "s_client's output for -alpn spdy/3.1"
where="decision = 'error' AND status IS NULL AND sni = 'api.test' AND host = 'api.test'
	AND error = 'client offered only unsupported ALPN protocols: spdy/3.1 (sni api.test)'"
assert_eq 1 "$(lab_audit_wait 1 "$where")" "audit rows for the refused ALPN list"
lab_log_wait '^level=warn event=client_alpn_refused client=10\.77\.1\.2:[0-9]+ sni=api\.test offered=spdy/3\.1$' \
	>/dev/null || fail "no warning naming spdy/3.1 and api.test in sluice's log"
# OpenSSL answers ALPN in a different message on TLS 1.2.
out=$(s_client -tls1_2 -alpn spdy/3.1)
assert_contains "$out" "no application protocol" "s_client's output for -tls1_2 -alpn spdy/3.1"
assert_eq 2 "$(lab_audit_wait 2 "$where")" "audit rows for the refused ALPN lists"

out=$(s_client -alpn spdy/3.1,http/1.1)
assert_contains "$out" "ALPN protocol: http/1.1" "s_client's output for -alpn spdy/3.1,http/1.1"
assert_contains "$out" "HTTP/1.1 200" "s_client's output for -alpn spdy/3.1,http/1.1"

out=$(s_client)
assert_contains "$out" "No ALPN negotiated" "s_client's output without ALPN"
assert_contains "$out" "HTTP/1.1 200" "s_client's output without ALPN"

assert_eq 2 "$(lab_audit_wait 2 "decision = 'forwarded'")" "forwarded requests"
assert_eq 2 "$(lab_audit_wait 2 "decision = 'error'")" "error rows"
lab_stop_sluice
