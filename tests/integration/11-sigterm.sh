#!/bin/bash
# SIGTERM: sluice lets the request in flight finish, exits 0, and every
# request that got a response has its audit row afterwards.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

urls=()
for i in $(seq 1 50); do
	urls+=(-o /dev/null "https://api.test/echo?n=$i")
done
# Five clients with ten requests each, at the same time.
clients=()
for j in 0 30 60 90 120; do
	lab_curl -w '%{http_code}\n' "${urls[@]:$j:30}" >"$LAB_DIR/codes.$j" 2>&1 &
	clients+=($!)
done
wait "${clients[@]}"
codes=$(cat "$LAB_DIR"/codes.* | sort | uniq -c | awk '{ print $1 " " $2 }')
assert_eq "50 200" "$codes" "statuses of 50 requests (count status)"

# One request in flight when SIGTERM comes.
lab_curl -o "$LAB_DIR/slow" -w '%{http_code}' https://api.test/slow/2 >"$LAB_DIR/slow.code" 2>&1 &
slow=$!
sleep 1
lab_stop_sluice
wait "$slow"
assert_eq 200 "$(cat "$LAB_DIR/slow.code")" "status of the request in flight at SIGTERM"

assert_eq 51 "$(lab_audit_sql 'SELECT count(*) FROM requests')" "audit rows after shutdown"
assert_eq 50 "$(lab_audit_sql "SELECT count(DISTINCT path) FROM requests WHERE path LIKE '/echo?n=%' AND status = 200")" \
	"distinct audited /echo?n= paths with status 200"
assert_eq "200|forwarded" "$(lab_audit_sql "SELECT status, decision FROM requests WHERE path = '/slow/2'")" \
	"audit row of the request in flight at SIGTERM"

# And it stopped listening.
lab_curl -o /dev/null --max-time 5 https://api.test/echo 2>/dev/null &&
	fail "a request succeeded after sluice exited"
exit 0
