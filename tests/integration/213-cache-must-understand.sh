#!/bin/bash
# Response cache, must-understand (RFC 9111, 5.2.2.3): a response with
# "no-store, must-understand" is stored when its status is one RFC 9110
# defines (sluice knows its caching rules), and not stored with any other
# status, however fresh.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

cc='cc=max-age%3D60%2C%20no-store%2C%20must-understand'
for t in "/cache/mu200?$cc" "/cache/mu599?$cc&status=599"; do
	lab_get first "https://api.test$t" >/dev/null
	lab_get second "https://api.test$t" >/dev/null
done
assert_eq 1 "$(lab_uhits "/cache/mu200?$cc")" "requests the upstream got for the 200"
assert_eq 2 "$(lab_uhits "/cache/mu599?$cc&status=599")" "requests the upstream got for the 599"
lab_stop_sluice
