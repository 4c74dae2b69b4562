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
got=$(lab_curl --http2 --limit-rate 25M "https://api.test/chunked/$n?seed=down" |
	sha256sum | cut -d' ' -f1)
assert_eq "$want" "$got" "sha256 of the slowly read chunked 50 MiB download"

hwm=$(lab_sluice_hwm_kb)
[ -n "$hwm" ] || fail "no VmHWM for sluice"
echo "sluice peak RSS: $((hwm / 1024)) MiB"
if ldd "$SLUICE" 2>/dev/null | grep -q libasan; then
	echo "AddressSanitizer build: peak RSS not checked"
else
	[ "$hwm" -lt $((64 * 1024)) ] || fail "sluice peak RSS is $((hwm / 1024)) MiB, over 64 MiB"
fi
assert_eq 1 "$(lab_audit_wait 1 "status = 200 AND resp_bytes = $n")" "audit rows with the body's size"
lab_stop_sluice
