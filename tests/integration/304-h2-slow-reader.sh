#!/bin/bash
# Over HTTP/2 a client that reads a 50 MiB response slowly gets it intact,
# and sluice streams it: backpressure on the stream stops the upstream, so
# its peak resident memory stays under 64 MiB (as for HTTP/1, test 05).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

n=$((50 * 1024 * 1024))
want=$(lab_gen "$n" down | sha256sum | cut -d' ' -f1)
# shellcheck disable=SC2034 # read by lab_curl
LAB_CURL_TIMEOUT=120
out=$(lab_curl --http2 --limit-rate 25M -o "$LAB_DIR/down" -w '%{http_code} %{http_version}' \
	"https://api.test/chunked/$n?seed=down") || fail "curl --http2 failed"
assert_eq "200 2" "$out" "status and HTTP version"
assert_eq "$want" "$(sha256sum <"$LAB_DIR/down" | cut -d' ' -f1)" \
	"sha256 of the slowly read chunked 50 MiB download"
rm -f "$LAB_DIR/down"

lab_assert_hwm_under 64
assert_eq 1 "$(lab_audit_wait 1 "status = 200 AND resp_bytes = $n")" "audit rows with the body's size"
lab_stop_sluice
