#!/bin/bash
# A deny meets the readings upstream routers give a request: Express,
# Spring MVC (before 6) and Rails route "/admin/" and "/admin//" to
# "/admin", and Flask, Express, Rails and Django run a GET's handler for a
# HEAD.  So a deny of /echo/admin also meets /echo/admin/ and /echo/admin//,
# and a deny of GET meets HEAD (403, nothing forwarded); a path that only
# starts the same and the methods the deny does not name still go through.
# On both listeners.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 10, 'api.test', NULL, '/echo/admin', 'deny'),
		(2, 10, 'api.test', 'GET', '/echo/report', 'deny'),
		(3, 20, 'api.test', NULL, '/echo/*', 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

n=0
for v in --http1.1 --http2; do
	while read -r want method path; do
		head=
		[ "$method" = HEAD ] && head=-I
		code=$(lab_curl $v -s -o /dev/null -w '%{http_code}' $head -X "$method" \
			--path-as-is "https://api.test$path?m=$n")
		assert_eq "$want" "$code" "status of $method $path over $v"
		n=$((n + 1))
	done <<-EOF
	403 GET /echo/admin
	403 GET /echo/admin/
	403 GET /echo/admin//
	403 GET /echo/ADMIN/
	200 GET /echo/administrator/
	200 GET /echo/admin/x
	403 GET /echo/report
	403 HEAD /echo/report
	403 HEAD /echo/report/
	200 POST /echo/report
	200 HEAD /echo/other
	EOF
done
assert_eq 8 "$(lab_upstream_hits /echo/)" "requests the upstream got (the 200s)"
assert_eq 2 "$(lab_upstream_hits /echo/report)" "requests the upstream got for /echo/report (the POSTs)"
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
assert_eq "1|8
2|6" "$(lab_audit_sql "SELECT rule_id, count(*) FROM requests WHERE status = 403 GROUP BY rule_id ORDER BY rule_id")" \
	"rules the denials name"
lab_stop_sluice
