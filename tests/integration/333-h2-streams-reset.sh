#!/bin/bash
# 10,000 streams opened (a POST whose body never comes, as many at a time as
# sluice allows) and reset, batch after batch, on one HTTP/2 connection:
# sluice's CPU and memory stay bounded and another client is served.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2abuse_up

lab_h2abuse_bounded streams 10000 65536 --count 10000 --path /echo >/dev/null
lab_stop_sluice
