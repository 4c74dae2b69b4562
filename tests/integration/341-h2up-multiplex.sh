#!/bin/bash
# Requests of many client connections, HTTP/1.1 and HTTP/2 alike, go as
# streams of ONE upstream connection to an h2 upstream: after a first
# request (the dial that learns the upstream speaks h2), ten curl
# processes and twenty streams of one nghttp client run at once, all are
# answered 200, and nghttpd accepted a single connection.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v nghttp >/dev/null || fail "no nghttp (Debian's nghttp2-client)"
lab_up
lab_start_nghttpd 50061
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50061"

assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/hello)" "first request"
pids=()
for i in $(seq 1 10); do
	lab_curl -o /dev/null -w '%{http_code}\n' "https://pinned.test/hello?c=$i" \
		>"$LAB_DIR/curl.$i" 2>&1 &
	pids+=($!)
done
lab_in_c nghttp -n -s -m 20 https://pinned.test/hello >"$LAB_DIR/nghttp.out" 2>&1 ||
	fail "nghttp failed: $(tail -n 5 "$LAB_DIR/nghttp.out")"
wait "${pids[@]}"
assert_eq 10 "$(cat "$LAB_DIR"/curl.* | grep -c '^200$')" "HTTP/1.1 clients answered 200"
assert_eq 20 "$(grep -c ' 200 ' "$LAB_DIR/nghttp.out")" "HTTP/2 streams answered 200"
assert_eq 31 "$(lab_audit_wait 31 "host = 'pinned.test' AND status = 200 AND upstream_proto = 'h2'")" \
	"audit rows with upstream_proto h2"
assert_eq 1 "$(lab_nghttpd_conns)" "connections nghttpd accepted"
lab_stop_sluice
