#!/bin/bash
# 100,000 SETTINGS frames written without reading their ACKs: sluice's CPU
# and memory stay bounded and another client is served meanwhile.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2abuse_up

lab_h2abuse_bounded settings 5000 65536 --count 100000 >/dev/null
lab_stop_sluice
