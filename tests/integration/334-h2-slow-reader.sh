#!/bin/bash
# A stream whose client never reads (SETTINGS_INITIAL_WINDOW_SIZE 0) on a
# 200 MB answer: sluice does not buffer the upstream's body (peak RSS within
# 64 MiB), and a second HTTP/2 connection is served all along.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2abuse_up

out=$(lab_h2abuse_bounded slow-reader 5000 65536 --seconds 8 \
	--path /bytes/200000000 --path2 /echo) || exit 1
assert_eq "200 0" "$(lab_json "$out" '"%s %d" % (d["slow_status"], d["other_failed"])')" \
	"status of the unread stream, and requests of the second connection that failed"
[ "$(lab_json "$out" 'd["other_ok"]')" -ge 10 ] ||
	fail "the second connection got too few answers: $out"
lab_stop_sluice
