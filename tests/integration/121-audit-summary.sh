#!/bin/bash
# sluice-audit summary: counts by host, decision and status match the
# traffic driven through sluice, as text and as JSON, and each filter
# (--host glob, --decision, --rule, --client, --since) narrows them.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_client2_up
lab_rules_sql "INSERT INTO rules (id, priority, host, path, action)
	VALUES (7, 10, 'api.test', '/deny*', 'deny');
	INSERT INTO rules (id, priority, host, action) VALUES (8, 20, 'api.test', 'allow');" ||
	fail "inserting rules"
lab_start_sluice --default-policy deny

lab_curl -o /dev/null -o /dev/null -o /dev/null \
	https://api.test/echo https://api.test/echo https://api.test/echo || fail "curl failed"
lab_curl -o /dev/null -o /dev/null https://api.test/deny/1 https://api.test/deny/2 || fail "curl failed"
lab_curl -o /dev/null https://other.test/echo || fail "curl failed"
lab_curl --interface "$LAB_C4B" -o /dev/null https://api.test/status/404 || fail "curl failed"
assert_eq 7 "$(lab_audit_wait 7)" "audit rows"
# A row from long ago, which --since leaves out.
lab_audit_sql "INSERT INTO requests (ts, client, server, host, decision, status)
	VALUES ('2020-01-01T00:00:00.000Z', '10.77.1.9:1000', '10.77.2.2:443', 'old.test', 'forwarded', 200)" ||
	fail "inserting an old row"

out=$(lab_sluice_audit summary) || fail "summary failed: $out"
assert_eq "HOST DECISION STATUS COUNT
api.test forwarded 200 3
api.test denied 403 2
api.test forwarded 404 1
old.test forwarded 200 1
other.test denied 403 1" "$(printf '%s\n' "$out" | tr -s ' ')" "summary"
assert_eq 1 "$(printf '%s\n' "$out" | awk '{ print index($0, "DECISION") index($0, "forwarded") index($0, "denied") }' |
	sed 's/0//g' | sort -u | wc -l)" "summary's decisions in one column"

# summary_json ARGS: the JSON summary as sorted "host decision status count" lines.
summary_json() {
	local json
	json=$(lab_sluice_audit summary --json "$@") || fail "summary --json $* failed: $json"
	"$LAB_PY" -c '
import json, sys
rows = json.loads(sys.argv[1])
assert isinstance(rows, list)
for r in rows:
    assert sorted(r) == ["count", "decision", "host", "status"], r
for r in sorted(rows, key=lambda r: (r["host"], r["decision"], r["status"])):
    print(r["host"], r["decision"], r["status"], r["count"])' "$json" ||
		fail "summary --json $* is not the JSON expected: $json"
}
assert_eq "$(lab_audit_sql "SELECT host, decision, status, count(*) FROM requests
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" | tr '|' ' ')" "$(summary_json)" "summary --json against SQL"
assert_eq "api.test denied 403 2
other.test denied 403 1" "$(summary_json --decision denied)" "--decision denied"
assert_eq "api.test denied 403 2" "$(summary_json --rule 7)" "--rule 7"
assert_eq "api.test forwarded 404 1" "$(summary_json --client "$LAB_C4B")" "--client $LAB_C4B"
assert_eq "other.test denied 403 1" "$(summary_json --host 'oth*.test')" "--host oth*.test"
assert_eq "api.test forwarded 200 3
api.test forwarded 404 1" "$(summary_json --host API.TEST --decision forwarded)" "--host API.TEST --decision forwarded"
assert_eq "" "$(summary_json --host api)" "--host api (exact, no match)"
assert_eq 7 "$(summary_json --since 1h | awk '{ n += $4 } END { print n }')" "--since 1h"
assert_eq 8 "$(summary_json | awk '{ n += $4 } END { print n }')" "no --since"
lab_stop_sluice
