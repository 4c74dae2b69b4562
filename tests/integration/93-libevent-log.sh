#!/bin/bash
# libevent's own messages reach stderr through sluice's logger, in sluice's
# line format: a nameserver line evdns cannot parse (in the resolv.conf that
# "ip netns exec" shows sluice) is a "sluice: warn libevent: ..." line, not
# libevent's bare "[warn] ...".
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
trap 'rm -rf "/etc/netns/$LAB_G"; lab_down' EXIT
mkdir -p "/etc/netns/$LAB_G" || fail "mkdir /etc/netns/$LAB_G"
printf 'nameserver not-an-address\nnameserver %s\n' "$LAB_GL4" >"/etc/netns/$LAB_G/resolv.conf"
lab_start_sluice --workers 1

lab_log_wait '^level=warn msg="libevent: Unable to parse nameserver address not-an-address"$' >/dev/null ||
	fail "no libevent warning in sluice's format"
if grep -q '^\[warn\]' "$LAB_DIR/sluice.log"; then
	fail "libevent still logs on its own: $(grep '^\[warn\]' "$LAB_DIR/sluice.log")"
fi
lab_stop_sluice
