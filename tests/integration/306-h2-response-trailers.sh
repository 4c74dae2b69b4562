#!/bin/bash
# A chunked HTTP/1.1 response with trailers reaches an HTTP/2 client as
# DATA and a trailing HEADERS frame: the data is the upstream's, the
# trailers that may be trailers (X-Sum) come after it, while Content-Length
# and Set-Cookie in the upstream's trailer section do not (RFC 9110 6.5.1).
# gRPC's grpc-status travels this way.
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

out=$(lab_curl --http2 -D "$LAB_DIR/head" -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	https://api.test/resp/chunked-ext) || fail "curl --http2 failed"
assert_eq "200 2" "$out" "status and HTTP version"
assert_eq "hello world" "$(cat "$LAB_DIR/body")" "the body"
head=$(tr -d '\r' <"$LAB_DIR/head")
# curl writes the trailers after the head, following its blank line.
trailers=$(printf '%s\n' "$head" | sed '1,/^$/d')
assert_eq "x-sum: abc" "$trailers" "the trailers at the client"
assert_not_contains "$(tr 'A-Z' 'a-z' <<<"$head")" "set-cookie" "what the client got"
assert_eq 1 "$(lab_audit_wait 1 "status = 200 AND resp_bytes = 11")" "audit rows"
lab_stop_sluice
