#!/bin/bash
# A chunked response reaches an HTTP/1.1 client in sluice's own chunks:
# the upstream's chunk extensions are gone, the data is the same, and the
# trailers that may be trailers (RFC 9110 6.5.1) follow the last chunk
# while Content-Length and Set-Cookie in the trailer section do not.
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

# --raw: curl shows the chunked framing as it came instead of decoding it.
lab_curl --raw -D "$LAB_DIR/head" -o "$LAB_DIR/raw" https://api.test/resp/chunked-ext ||
	fail "curl failed"
head=$(tr -d '\r' <"$LAB_DIR/head")
assert_contains "$head" "HTTP/1.1 200" "status line"
assert_contains "$(tr 'A-Z' 'a-z' <<<"$head")" "transfer-encoding: chunked" "framing at the client"
raw=$("$LAB_PY" -c 'import sys; print(repr(open(sys.argv[1], "rb").read().decode("latin-1")))' "$LAB_DIR/raw")
assert_not_contains "$raw" ";" "the body at the client ($raw)"
assert_contains "$raw" 'hello' "the first chunk's data at the client"
assert_contains "$raw" ' world' "the second chunk's data at the client"
assert_contains "$raw" '0\r\nX-Sum: abc\r\n\r\n' "the last chunk and trailers at the client ($raw)"
assert_not_contains "$raw" "Content-Length" "the trailers at the client"
assert_not_contains "$raw" "Set-Cookie" "the trailers at the client"

# Decoded, the body is the upstream's data.
assert_eq "hello world" "$(lab_curl https://api.test/resp/chunked-ext)" "the body curl decodes"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "200|11
200|11" "$(lab_audit_sql "SELECT status, resp_bytes FROM requests")" "audited status and response bytes"
lab_stop_sluice
