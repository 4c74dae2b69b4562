#!/bin/bash
# An HTTP/2 connection that stays idle past --idle-timeout is told so
# before it closes: GOAWAY(NO_ERROR) naming the last stream sluice took
# (RFC 9113 6.8), then the close, about --idle-timeout after its last
# stream ended.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --idle-timeout 2

start=$(date +%s%N)
out=$(lab_h2raw last get:1:/echo/a read:8) || fail "the raw HTTP/2 client failed: $out"
took=$((($(date +%s%N) - start) / 1000000))
assert_eq "headers 1 0x88
goaway 0 last 1
eof" "$(printf '%s\n' "$out" | grep -v '^data')" "frames the client read (besides data)"
[ "$took" -ge 1500 ] && [ "$took" -lt 6000 ] ||
	fail "the connection closed after $took ms, not about 2 s"
lab_stop_sluice
