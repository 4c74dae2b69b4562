#!/bin/bash
# Header blocks that never end (CONTINUATION without END_HEADERS, for 5 s, on
# up to 100 connections one after the other): sluice ends those connections
# without forwarding anything, stays bounded in CPU and memory, and serves
# another client meanwhile.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2abuse_up

out=$(lab_h2abuse_bounded continuation 5000 65536 --count 100 --seconds 5 --path /echo) || exit 1
assert_eq "True 0" "$(lab_json "$out" '"%s %d" % (d["closed"] + d["send_blocked"] > 0, d["answers"])')" \
	"connections ended by sluice, and answers to the endless blocks"
assert_eq 0 "$(lab_upstream_hits /echo?h2conform=h2abuse-continuation)" \
	"requests the upstream got from the endless block"
lab_stop_sluice
