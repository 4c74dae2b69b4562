#!/bin/bash
# SIGTERM drains an HTTP/2 connection: sluice sends GOAWAY, the stream in
# flight is answered in full, and sluice closes the connection and exits as
# soon as it ended (not at the drain timeout).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' \
	https://api.test/slow/2 >"$LAB_DIR/out" 2>&1 &
cpid=$!
saw() { [ "$(lab_uhits /slow/2)" = 1 ]; }
lab_poll 5000 saw >/dev/null || fail "the upstream got no request before SIGTERM"
start=$(date +%s%N)
lab_stop_sluice 8
took=$((($(date +%s%N) - start) / 1000000))
wait "$cpid" || fail "curl --http2 failed: $(cat "$LAB_DIR/out")"
assert_eq "200 2" "$(cat "$LAB_DIR/out")" "status and HTTP version of the stream in flight"
assert_eq /slow/2 "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path in its body"
[ "$took" -lt 5000 ] || fail "sluice took $took ms to exit after SIGTERM"
assert_eq "forwarded|200" "$(lab_audit_sql "SELECT decision, status FROM requests")" \
	"audit row of the drained stream (decision|status)"
