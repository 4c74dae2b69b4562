#!/bin/bash
# A rate limit holds for every spelling an upstream serves as its path:
# "/echo/search/", "/echo//search", "/echo/search;x" and "/echo/Search"
# are /echo/search to Express, nginx, Tomcat or IIS, so once its one token
# is spent they get 429 too, although a later, wider allow (/echo/*) would
# take them without a limit.  Another path still goes through; on both
# listeners, one bucket.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(1, 10, 'api.test', '/echo/search', 'allow'),
		(2, 20, 'api.test', '/echo/*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds) VALUES (1, 1, 600);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

first=200
for v in --http1.1 --http2; do
	while read -r want path; do
		[ "$want" = first ] && want=$first
		code=$(lab_curl $v -s -o /dev/null -w '%{http_code}' --path-as-is "https://api.test$path")
		assert_eq "$want" "$code" "status of $path over $v"
	done <<-EOF
	first /echo/search
	429 /echo/search
	429 /echo/search/
	429 /echo//search
	429 /echo/search;x
	429 /echo/Search
	200 /echo/searches
	EOF
	first=429
done
assert_eq 1 "$(lab_uhits /echo/search)" "requests the upstream got for /echo/search"
assert_eq 3 "$(lab_upstream_hits /echo/)" "requests the upstream got in all"
assert_eq 14 "$(lab_audit_wait 14)" "audit rows"
assert_eq "rate_limited|11" "$(lab_audit_sql "SELECT decision, count(*) FROM requests WHERE status = 429 GROUP BY decision")" \
	"429 rows"
lab_stop_sluice
