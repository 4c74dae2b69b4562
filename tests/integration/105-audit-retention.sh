#!/bin/bash
# --audit-retention DAYS deletes older rows (requests, connections, gaps)
# while sluice runs, and keeps the recent ones.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
"$SLUICE" --help | grep -q -- '--audit-retention DAYS' || fail "--help does not name --audit-retention"

lab_start_sluice --default-policy allow
lab_stop_sluice
lab_audit_sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
	INSERT INTO requests (ts, client, server, decision)
	SELECT '2020-01-01T00:00:00.000Z', 'c', 's', 'denied' FROM n;
	INSERT INTO connections (id, started, ended, client, server)
	VALUES (1, '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:01.000Z', 'c', 's');
	INSERT INTO gaps VALUES ('2020-01-01T00:00:00.000Z', 3, 'queue_full', 'request');" || fail "old rows"

lab_start_sluice --default-policy allow --audit-retention 7
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status"
assert_eq 1 "$(lab_audit_wait 1)" "requests left"
lab_stop_sluice
assert_eq "1|1|0" "$(lab_audit_sql "SELECT (SELECT count(*) FROM requests),
	(SELECT count(*) FROM connections), (SELECT count(*) FROM gaps)")" \
	"rows left: the recent request and its connection"
