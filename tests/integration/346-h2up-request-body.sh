#!/bin/bash
# Request bodies from an HTTP/1.1 client reach an h2-only upstream whole,
# through the stream's flow control (3 MB is far more than its window):
# one with a Content-Length, one chunked; nghttpd's DATA frames add up to
# both bodies and the audit rows count them.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50066
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
head -c 3000000 /dev/urandom >"$LAB_DIR/body"
lab_start_sluice --default-policy allow --resolve "pinned.test:443:$LAB_U4:50066"

assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' --data-binary @"$LAB_DIR/body" \
	https://pinned.test/hello)" "POST with a Content-Length"
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$LAB_DIR/body" https://pinned.test/hello)" "chunked POST"
assert_eq 2 "$(lab_audit_wait 2 "host = 'pinned.test' AND status = 200 AND req_bytes = 3000000 \
	AND upstream_proto = 'h2'")" "audit rows with the whole body"
got=$(sed -n 's/.*recv DATA frame <length=\([0-9]*\),.*/\1/p' "$LAB_NGHTTPD_LOG" |
	awk '{ n += $1 } END { print n + 0 }')
assert_eq 6000000 "$got" "body bytes nghttpd received"
lab_stop_sluice
