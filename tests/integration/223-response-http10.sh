#!/bin/bash
# Chunked is HTTP/1.1's (RFC 9112 6.1: no Transfer-Encoding to a client that
# did not say HTTP/1.1): an HTTP/1.0 client gets a chunked response's data
# delimited by the close, with no chunk framing and no trailers.  (curl
# offers ALPN "http/1.0" with --http1.0, which sluice refuses: --no-alpn.)
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

lab_curl --http1.0 --no-alpn --raw -D "$LAB_DIR/head" -o "$LAB_DIR/body" https://api.test/resp/chunked-ext ||
	fail "curl failed"
head=$(tr -d '\r' <"$LAB_DIR/head" | tr 'A-Z' 'a-z')
assert_not_contains "$head" "transfer-encoding" "the head an HTTP/1.0 client got"
assert_not_contains "$head" "content-length" "the head an HTTP/1.0 client got"
assert_eq "hello world" "$(cat "$LAB_DIR/body")" "the body an HTTP/1.0 client got, as it came"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "200|11" "$(lab_audit_sql "SELECT status, resp_bytes FROM requests")" "audited status and response bytes"
lab_stop_sluice
