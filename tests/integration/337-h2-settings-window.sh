#!/bin/bash
# What sluice grants an HTTP/2 client, as the README says: SETTINGS with
# MAX_CONCURRENT_STREAMS 100, MAX_HEADER_LIST_SIZE 65536,
# INITIAL_WINDOW_SIZE 131072 and ENABLE_CONNECT_PROTOCOL 1, and a
# connection window of 1 MiB (the initial 65535 plus the WINDOW_UPDATE on
# stream 0 that comes before any DATA).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_h2raw flow read:1) || fail "the raw HTTP/2 client failed: $out"
assert_eq "settings 0x3=100 0x6=65536 0x4=131072 0x8=1" \
	"$(printf '%s\n' "$out" | grep -m1 '^settings [0-9]')" "sluice's SETTINGS"
window=65535
for inc in $(printf '%s\n' "$out" | sed -n 's/^window 0 //p'); do
	window=$((window + inc))
done
assert_eq 1048576 "$window" "the connection window sluice grants"
lab_stop_sluice
