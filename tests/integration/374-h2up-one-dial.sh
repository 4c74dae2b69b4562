#!/bin/bash
# Simultaneous first requests to an upstream whose protocol sluice does not
# know yet make one dial: on a fresh sluice, twenty concurrent streams of
# one nghttp client to an h2-only upstream (nghttpd) are all answered 200
# over h2, and nghttpd accepted a single connection (the other requests
# waited for the first dial's ALPN and joined its connection).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v nghttp >/dev/null || fail "no nghttp (Debian's nghttp2-client)"
lab_up
lab_start_nghttpd 50074
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50074"

lab_in_c nghttp -n -s -m 20 https://pinned.test/hello >"$LAB_DIR/nghttp.out" 2>&1 ||
	fail "nghttp failed: $(tail -n 5 "$LAB_DIR/nghttp.out")"
assert_eq 20 "$(grep -c ' 200 ' "$LAB_DIR/nghttp.out")" "HTTP/2 streams answered 200"
assert_eq 20 "$(lab_audit_wait 20 "host = 'pinned.test' AND status = 200 AND upstream_proto = 'h2'")" \
	"audit rows with upstream_proto h2"
assert_eq 1 "$(lab_nghttpd_conns)" "connections nghttpd accepted"
lab_stop_sluice
