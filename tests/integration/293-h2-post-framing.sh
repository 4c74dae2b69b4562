#!/bin/bash
# An HTTP/2 POST goes to the HTTP/1.1 upstream framed by sluice: with the
# Content-Length the client announced, or, without one, chunked; the
# upstream receives the whole body either way, and the audit counts it.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

head -c 300000 /dev/urandom >"$LAB_DIR/data"
sum=$(sha256sum <"$LAB_DIR/data" | cut -d' ' -f1)
out=$(lab_curl --http2 -o "$LAB_DIR/known" -w '%{http_code} %{http_version}' \
	--data-binary "@$LAB_DIR/data" https://api.test/echo/known) || fail "curl POST with a length failed"
assert_eq "200 2" "$out" "status and HTTP version of the POST with a length"
assert_eq "300000 $sum" "$(lab_json "$(cat "$LAB_DIR/known")" '"%d %s" % (d["body_len"], d["body_sha256"])')" "length and digest of the body the upstream got"
assert_eq 300000 "$(lab_uhdr /echo/known 1 Content-Length)" "Content-Length the upstream got"
assert_eq "" "$(lab_uhdr /echo/known 1 Transfer-Encoding)" "Transfer-Encoding the upstream got"

# curl sends no content-length for a body it reads from a pipe.
out=$(lab_in_c sh -c 'cat "$1" | curl -sS -4 --http2 --cacert "$2" -o "$3" \
	-w "%{http_code} %{http_version}" -H "Transfer-Encoding:" -T - https://api.test/echo/unknown' \
	sh "$LAB_DIR/data" "$LAB_DIR/ica/ca.crt" "$LAB_DIR/unknown") || fail "curl PUT from a pipe failed"
assert_eq "200 2" "$out" "status and HTTP version of the PUT without a length"
assert_eq "300000 $sum" "$(lab_json "$(cat "$LAB_DIR/unknown")" '"%d %s" % (d["body_len"], d["body_sha256"])')" "length and digest of the unframed body the upstream got"
assert_eq chunked "$(lab_uhdr /echo/unknown 1 Transfer-Encoding)" "Transfer-Encoding the upstream got"
assert_eq "" "$(lab_uhdr /echo/unknown 1 Content-Length)" "Content-Length the upstream got"

assert_eq 2 "$(lab_audit_wait 2 "req_bytes = 300000 AND status = 200")" \
	"audit rows with the body's size"
lab_stop_sluice
