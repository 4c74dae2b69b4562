#!/bin/bash
# Encoded separators and path parameters cannot carry a request around a
# rule: nginx, Tomcat (ALLOW_ENCODED_SLASH) and IIS read "%2F" or "%5C" as
# '/' before they resolve "..", so /echo/ok%2F..%2Fadmin is /echo/admin to
# them, and Tomcat, Jetty and Spring drop ";x" from /echo/admin;x.  A deny
# meets that reading, an allow must hold under it too; on both listeners
# (HTTP/1.1 and h2).  A path whose encoded slash is data (GitLab's
# /projects/group%2Fname) is still allowed by a rule written that way, and
# reaches the upstream as sent.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(1, 10, 'api.test', '/echo/admin*', 'deny'),
		(4, 10, 'api.test', '/echo/secret', 'deny'),
		(2, 20, 'api.test', '/echo/ok*', 'allow'),
		(3, 20, 'api.test', '/echo/g%2Fname/*', 'allow'),
		(5, 30, 'api.test', '/echo/*', 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

n=0
for v in --http1.1 --http2; do
	while read -r want p; do
		code=$(lab_curl $v --path-as-is -s -o /dev/null -w '%{http_code}' "https://api.test$p")
		assert_eq "$want" "$code" "status of $p over $v"
		n=$((n + 1))
	done <<-EOF
	403 /echo/ok%2F..%2Fadmin
	403 /echo/ok%2f..%2fadmin
	403 /echo/ok%5C..%5Cadmin
	403 /echo/ok/..%2Fadmin/x
	403 /echo/ok%2F..%2F..%2Fother
	403 /echo/secret;jsessionid=1
	403 /echo/ok;x%2F..%2Fsecret
	200 /echo/ok%2Fdata
	200 /echo/g%2Fname/issues
	403 /echo/g%2Fname%2F..%2F..%2Fadmin
	EOF
done
assert_eq 0 "$(lab_upstream_hits /echo/ok%2F..)" "requests the upstream got for /echo/ok%2F.."
assert_eq 2 "$(lab_uhits /echo/g%2Fname/issues)" "requests the upstream got for /echo/g%2Fname/issues"
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
lab_stop_sluice
