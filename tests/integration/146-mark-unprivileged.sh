#!/bin/bash
# Without CAP_NET_ADMIN (--user nobody) sluice cannot mark its upstream
# sockets: it says so in one warning, once, and keeps serving.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --user nobody --workers 2

for i in 1 2 3 4; do
	code=$(lab_curl -o /dev/null -w '%{http_code}' -H 'Connection: close' \
		"https://api.test/echo?n=$i") || fail "curl $i failed"
	assert_eq 200 "$code" "status of request $i without CAP_NET_ADMIN"
done
assert_eq 4 "$(lab_upstream_hits /echo)" "requests the upstream received"
assert_eq 1 "$(grep -c 'SO_MARK' "$LAB_DIR/sluice.log")" "SO_MARK warnings in sluice's log"
line=$(grep 'SO_MARK' "$LAB_DIR/sluice.log")
assert_contains "$line" "CAP_NET_ADMIN" "the warning names the missing capability"
lab_stop_sluice
