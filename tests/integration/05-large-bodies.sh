#!/bin/bash
# 50 MiB up and 50 MiB down arrive intact, and sluice streams them: its peak
# resident memory stays under 64 MiB, also when the client reads slowly.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

n=$((50 * 1024 * 1024))
lab_gen "$n" up > "$LAB_DIR/up"
want_up=$(sha256sum < "$LAB_DIR/up" | cut -d' ' -f1)
want_down=$(lab_gen "$n" down | sha256sum | cut -d' ' -f1)

# shellcheck disable=SC2034 # read by lab_curl
LAB_CURL_TIMEOUT=120
body=$(lab_curl -T "$LAB_DIR/up" https://api.test/echo) || fail "50 MiB upload failed"
rm -f "$LAB_DIR/up"
assert_eq "$n" "$(lab_json "$body" 'd["body_len"]')" "upload length the upstream saw"
assert_eq "$want_up" "$(lab_json "$body" 'd["body_sha256"]')" "sha256 of the upload"

got=$(lab_curl "https://api.test/bytes/$n?seed=down" | sha256sum | cut -d' ' -f1)
assert_eq "$want_down" "$got" "sha256 of the 50 MiB download"
# A reader slower than the upstream: without backpressure this piles up in sluice.
got=$(lab_curl --limit-rate 25M "https://api.test/chunked/$n?seed=down" | sha256sum | cut -d' ' -f1)
assert_eq "$want_down" "$got" "sha256 of the slowly read chunked 50 MiB download"

lab_assert_hwm_under 64

assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
assert_eq "$n|200" "$(lab_audit_sql "SELECT req_bytes, status FROM requests WHERE method = 'PUT'")" \
	"audit of the upload (req_bytes|status)"
assert_eq "$n|$n" "$(lab_audit_sql "SELECT group_concat(resp_bytes, '|') FROM requests WHERE method = 'GET'")" \
	"audit resp_bytes of the two downloads"

lab_stop_sluice
