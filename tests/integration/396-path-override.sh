#!/bin/bash
# A path override cannot carry a request around a path rule: Symfony and
# Zend Framework before CVE-2018-14773's fix, and IIS behind URL Rewrite,
# route by X-Original-URL or X-Rewrite-URL instead of the request line.
# The path such a field names is normalised and matched too: a deny under
# any reading stands (403, nothing forwarded), an allow must allow every
# one, and a value that is no target gets 400; on both listeners.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 10, 'api.test', NULL, '/echo/admin*', 'deny'),
		(2, 20, 'api.test', NULL, '/echo/ok*', 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

n=0
for v in --http1.1 --http2; do
	while read -r want field; do
		code=$(lab_curl $v -s -o /dev/null -w '%{http_code}' \
			${field:+-H "$field"} "https://api.test/echo/ok?m=$n")
		assert_eq "$want" "$code" "status of GET /echo/ok with '$field' over $v"
		n=$((n + 1))
	done <<-EOF
	200
	403 X-Original-URL: /echo/admin
	403 X-Rewrite-URL: /echo/x/../admin?a=1
	403 x-original-url: /echo/%61dmin
	403 X-Original-URL: /other
	200 X-Original-URL: /echo/ok/sub
	400 X-Original-URL: https://api.test/echo/admin
	EOF
done
assert_eq 4 "$(lab_upstream_hits /echo/ok)" "requests the upstream got"
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
assert_eq "1|6
|2" "$(lab_audit_sql "SELECT rule_id, count(*) FROM requests WHERE status = 403 GROUP BY rule_id ORDER BY rule_id DESC")" \
	"rules the denials name (1: the admin deny; none: the default)"
lab_stop_sluice
