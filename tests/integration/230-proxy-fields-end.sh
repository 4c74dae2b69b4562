#!/bin/bash
# Proxy-* fields are for a proxy, not the origin (RFC 9110 11.7): the
# credentials a client meant for a proxy (Proxy-Authorization) never reach
# the upstream sluice forwards to, and Proxy-Authenticate from an upstream
# never reaches the client; everything else the client sent still does.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' \
	-H 'Proxy-Authorization: Basic cHJveHk6cHctMjMw' -H 'X-Keep: 230' \
	https://api.test/echo/230) || fail "curl failed"
assert_eq 200 "$code" "status of GET /echo/230"
b=$(cat "$LAB_DIR/body")
assert_eq "" "$(lab_hdr "$b" Proxy-Authorization)" "Proxy-Authorization the upstream got"
assert_eq "230" "$(lab_hdr "$b" X-Keep)" "X-Keep the upstream got (must stay)"
assert_not_contains "$(cat "$LAB_REQLOG")" "cHJveHk6cHctMjMw" "the upstream's request log"

lab_curl -o /dev/null -D "$LAB_DIR/h" \
	'https://api.test/headers?Proxy-Authenticate=Basic%20realm%3Dp&X-Kept=230' ||
	fail "curl for /headers failed"
h=$(tr -d '\r' <"$LAB_DIR/h")
assert_contains "$h" "X-Kept: 230" "response fields at the client"
assert_not_contains "$h" "Proxy-Authenticate" "response fields at the client"
lab_stop_sluice
