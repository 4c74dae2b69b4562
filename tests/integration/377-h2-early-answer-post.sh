#!/bin/bash
# A denied POST over h2 is a 403 for curl: sluice answers before the body
# arrives, and lets a body that fits the client's window finish rather than
# reset the stream (curl 7.88, Debian 12's, fails a transfer whose upload a
# RST_STREAM(NO_ERROR) cut, whole response or not).  A body larger than the
# window is still stopped that way (test_h2codec), which that curl reports
# as an error.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy deny

codes=$(for i in 1 2 3 4 5 6 7 8 9 10; do
	lab_curl --http2 -X POST -d "x=$i" -o /dev/null -w '%{http_code} %{http_version}\n' \
		https://api.test/echo 2>/dev/null
done | sort | uniq -c | awk '{ print $1, $2, $3 }')
assert_eq "10 403 2" "$codes" "answers to ten denied POSTs over h2"

assert_eq 10 "$(lab_audit_wait 10 "status = 403 AND decision = 'denied'")" "audit rows"
lab_stop_sluice
