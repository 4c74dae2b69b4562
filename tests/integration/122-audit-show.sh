#!/bin/bash
# sluice-audit show ID: prints that one request, as text and as JSON, with
# its connection when the database records connections (requests.conn_id
# and a connections table), and the request alone when it does not.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_curl -o /dev/null https://api.test/echo?first || fail "curl failed"
lab_curl -o /dev/null https://api.test/status/418 || fail "curl failed"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
id=$(lab_audit_sql "SELECT id FROM requests WHERE path = '/status/418'")

out=$(lab_sluice_audit show "$id") || fail "show $id failed: $out"
assert_eq "request $id" "$(printf '%s\n' "$out" | head -n 1)" "show's first line"
# A field of the request: the lines before its connection's, if any.
field() { printf '%s\n' "$out" | awk -v k="$1" '/^connection / { exit } $1 == k { print $2 }'; }
assert_eq "$id" "$(field id)" "id"
assert_eq /status/418 "$(field path)" "path"
assert_eq 418 "$(field status)" "status"
assert_eq forwarded "$(field decision)" "decision"
assert_eq api.test "$(field host)" "host"
assert_eq "$LAB_C4" "$(field client | sed 's/:[0-9]*$//')" "client"
assert_not_contains "$out" "/echo?first" "show $id"

json=$(lab_sluice_audit show "$id" --json) || fail "show --json failed: $json"
assert_eq "/status/418 418 forwarded" \
	"$(lab_json "$json" '" ".join(str(d["request"][k]) for k in ("path", "status", "decision"))')" \
	"show --json: path status decision"
# The connection's row is written when it closes, in the next batch.
conns_written() {
	[ "$(lab_audit_sql "SELECT count(*) FROM sqlite_master WHERE name = 'connections'")" = 0 ] ||
		[ "$(lab_audit_sql 'SELECT count(*) FROM connections')" -ge 2 ]
}
lab_poll 5000 conns_written >/dev/null
out=$(lab_sluice_audit show "$id") || fail "show $id failed: $out"
json=$(lab_sluice_audit show "$id" --json) || fail "show --json failed: $json"
has_conn=$(lab_audit_sql "SELECT count(*) FROM pragma_table_info('requests') WHERE name = 'conn_id'
	AND EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'connections')")
if [ "$has_conn" = 1 ]; then
	assert_eq "$(lab_json "$json" 'd["request"]["client"]')" \
		"$(lab_json "$json" 'd["connection"]["client"]')" "the connection's client"
	assert_contains "$out" "connection $(lab_json "$json" 'd["request"]["conn_id"]')" "show $id"
else
	lab_log "no connections table: the request alone"
	assert_eq null "$(lab_json "$json" 'd["connection"]')" "connection without a connections table"
	assert_not_contains "$out" "connection" "show $id"
fi
lab_stop_sluice
