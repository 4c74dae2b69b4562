#!/bin/bash
# SIGTERM drains an HTTP/2 connection: sluice sends GOAWAY, the stream in
# flight is answered in full, then sluice closes the connection (the client
# keeps it open) and exits, without waiting for the drain timeout.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_h2raw get:1:/slow/2 read:12 >"$LAB_DIR/frames" 2>&1 &
cpid=$!
saw() { [ "$(lab_uhits /slow/2)" = 1 ]; }
lab_poll 5000 saw >/dev/null || fail "the upstream got no request before SIGTERM"
start=$(date +%s%N)
lab_stop_sluice 8
took=$((($(date +%s%N) - start) / 1000000))
wait "$cpid" || fail "the raw HTTP/2 client failed: $(cat "$LAB_DIR/frames")"
frames=$(grep -v '^data 1$' "$LAB_DIR/frames")
assert_eq "goaway 0
headers 1 0x88
data 1 end
eof" "$frames" "frames the client read (besides data without the end)"
[ "$took" -lt 5000 ] || fail "sluice took $took ms to exit after SIGTERM"
assert_eq "forwarded|200" "$(lab_audit_sql "SELECT decision, status FROM requests")" \
	"audit row of the drained stream (decision|status)"
