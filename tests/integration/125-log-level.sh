#!/bin/bash
# --log-level warn drops info (and debug) lines and keeps warn lines;
# --verbose is still --log-level debug; a bad level or format is refused
# with exit 2.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
trap 'rm -rf "/etc/netns/$LAB_G"; lab_down' EXIT
mkdir -p "/etc/netns/$LAB_G" || fail "mkdir /etc/netns/$LAB_G"
printf 'nameserver not-an-address\nnameserver %s\n' "$LAB_GL4" >"/etc/netns/$LAB_G/resolv.conf"

lab_start_sluice --default-policy allow --workers 1 --log-level warn
lab_curl -o /dev/null https://untrusted.test/echo || fail "curl failed"
lab_log_wait '^level=warn msg="libevent: ' >/dev/null || fail "no warn line at --log-level warn"
lab_stop_sluice
log=$(grep -v '^+ sluice ' "$LAB_DIR/sluice.log")
assert_not_contains "$log" "level=info " "log at --log-level warn"
assert_not_contains "$log" "level=debug " "log at --log-level warn"

: >"$LAB_DIR/sluice.log"
lab_start_sluice --default-policy allow --workers 1 --verbose
# An upstream sluice does not trust: a 502 with an error, a debug line.
lab_curl -o /dev/null https://untrusted.test/echo || fail "curl failed"
lab_log_wait '^level=debug ' >/dev/null || fail "no debug line with --verbose"
lab_log_wait '^level=info event=ready ' >/dev/null || fail "no info line with --verbose"
lab_stop_sluice

for flag in "--log-level verbose" "--log-format xml"; do
	out=$("$SLUICE" $flag 2>&1)
	assert_eq 2 "$?" "exit status of sluice $flag"
	assert_contains "$out" "${flag%% *}" "sluice $flag"
done
