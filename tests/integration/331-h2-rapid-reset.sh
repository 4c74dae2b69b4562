#!/bin/bash
# Rapid reset (CVE-2023-44487): 10,000 HEADERS + RST_STREAM pairs on one
# HTTP/2 connection leave sluice's CPU and memory bounded, and another
# client is served meanwhile.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2abuse_up

lab_h2abuse_bounded rapid-reset 5000 65536 --count 10000 --path /echo >/dev/null
lab_stop_sluice
