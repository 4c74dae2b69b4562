#!/bin/bash
# An HTTP/1.1 response on its way to an HTTP/2 client: the fields HTTP/2
# forbids (RFC 9113 8.2.2: Connection and what it names, Keep-Alive,
# Proxy-Connection, Upgrade, Transfer-Encoding) are gone, names are
# lowercase and values trimmed, so a strict client (nghttp, on nghttp2)
# takes the response; the body is the upstream's, unchunked.
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

out=$(lab_curl --http2 -s -i https://api.test/resp/hop-fields) || fail "curl failed"
fields=$(printf '%s\n' "$out" | tr -d '\r' | sed -n '2,/^$/p' | sed '/^$/d' |
	grep -v -e '^date:' -e '^server:' | sort | tr '\n' ' ')
assert_eq "x-pad: padded x-upper-case: Yes " "$fields" "the response fields the h2 client got"
assert_eq "hello" "$(printf '%s\n' "$out" | tail -n 1)" "the body"

lab_in_c nghttp "https://api.test/resp/hop-fields" >"$LAB_DIR/nghttp.out" 2>"$LAB_DIR/nghttp.err" ||
	fail "nghttp refused the response: $(cat "$LAB_DIR/nghttp.err")"
assert_eq "hello" "$(cat "$LAB_DIR/nghttp.out")" "the body nghttp got"
lab_stop_sluice
