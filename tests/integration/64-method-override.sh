#!/bin/bash
# A method override cannot carry a request around a method rule: Google's
# APIs, Express's method-override and Symfony serve a POST with
# X-HTTP-Method-Override: DELETE as a DELETE.  A request is matched again
# under each method X-HTTP-Method-Override, X-HTTP-Method or
# X-Method-Override names: a deny under any reading stands (403, nothing
# forwarded), an allow must hold under every one; on both listeners.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 10, 'api.test', 'DELETE', NULL, 'deny'),
		(2, 20, 'api.test', 'GET', '/echo/ro*', 'allow'),
		(3, 30, 'api.test', NULL, '/echo/rw*', 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

n=0
for v in --http1.1 --http2; do
	while read -r want method path field; do
		code=$(lab_curl $v -s -o /dev/null -w '%{http_code}' -X "$method" \
			${field:+-H "$field"} "https://api.test$path?m=$n")
		assert_eq "$want" "$code" "status of $method $path with '$field' over $v"
		n=$((n + 1))
	done <<-EOF
	200 POST /echo/rw
	403 POST /echo/rw X-HTTP-Method-Override: DELETE
	403 POST /echo/rw x-http-method: delete
	403 PUT /echo/rw X-Method-Override: DELETE
	200 POST /echo/rw X-HTTP-Method-Override: PUT
	200 GET /echo/ro
	403 GET /echo/ro X-HTTP-Method-Override: POST
	403 GET /echo/ro X-HTTP-Method-Override: GET,DELETE
	200 GET /echo/ro X-HTTP-Method-Override: GET
	EOF
done
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
assert_eq 10 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE status = 403 AND decision = 'denied'")" \
	"denied rows"
assert_eq "1|8
|2" "$(lab_audit_sql "SELECT rule_id, count(*) FROM requests WHERE status = 403 GROUP BY rule_id ORDER BY rule_id DESC")" \
	"rules the denials name (1: the DELETE deny, GET,DELETE's too; none: the default)"
lab_stop_sluice
