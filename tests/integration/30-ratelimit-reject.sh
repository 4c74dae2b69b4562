#!/bin/bash
# Rate limit, reject mode: a rule with 3 per 3600 s (burst 3) lets three
# requests through, then answers 429 itself with Retry-After, the RateLimit
# fields and a JSON body, without reaching the upstream; the audit says
# rate_limited, status 429, with the rule's id.  Another rule is unaffected.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst)
		VALUES (1, 3, 3600, 3);" || fail "inserting the rules"
lab_start_sluice --default-policy deny

for i in 1 2 3; do
	code=$(lab_curl -o /dev/null -w '%{http_code}' "https://api.test/echo/$i") || fail "curl $i failed"
	assert_eq 200 "$code" "status of request $i of a burst of 3"
done

code=$(lab_curl -D "$LAB_DIR/head" -o "$LAB_DIR/body" -w '%{http_code}' https://api.test/echo/4) ||
	fail "curl 4 failed"
assert_eq 429 "$code" "status of the 4th request (bucket empty)"
head=$(tr -d '\r' <"$LAB_DIR/head")
hval() { printf '%s\n' "$head" | grep -i -m1 "^$1:" | sed 's/^[^:]*: *//; s/ *$//'; }
ra=$(hval Retry-After)
[[ $ra =~ ^[0-9]+$ ]] || fail "Retry-After '$ra' is not whole seconds (head: $head)"
# A token takes 1200 s; the test runs for well under 100 s of it.
[ "$ra" -ge 1100 ] && [ "$ra" -le 1200 ] ||
	fail "Retry-After $ra: a token is due in (1100, 1200] s at 3 per 3600 s"
assert_eq '"rule-1";q=3;w=3600' "$(hval RateLimit-Policy)" "RateLimit-Policy"
assert_eq "\"rule-1\";r=0;t=$ra" "$(hval RateLimit)" "RateLimit"
body=$(cat "$LAB_DIR/body")
assert_eq rate_limited "$(lab_json "$body" 'd["error"]')" "error in the 429 body"
assert_eq 1 "$(lab_json "$body" 'd["rule"]')" "rule in the 429 body"
assert_eq "$ra" "$(lab_json "$body" 'd["retry_after"]')" "retry_after in the 429 body"
assert_not_contains "$body" conn_id "429 body (made by sluice, not the upstream)"

# Still limited; another path that rule 2 decides is not.
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo/5) || fail "curl 5 failed"
assert_eq 429 "$code" "status of the 5th request"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/status/200) || fail "curl failed"
assert_eq 200 "$code" "status of a request rule 2 (no limit) decides"

assert_eq 3 "$(lab_upstream_hits /echo/)" "requests under rule 1 that reached the upstream"
assert_eq 6 "$(lab_audit_wait 6)" "audit rows"
assert_eq "forwarded|200|1|/echo/1
forwarded|200|1|/echo/2
forwarded|200|1|/echo/3
rate_limited|429|1|/echo/4
rate_limited|429|1|/echo/5
forwarded|200|2|/status/200" \
	"$(lab_audit_sql 'SELECT decision, status, rule_id, path FROM requests ORDER BY id')" \
	"audit rows (decision|status|rule_id|path)"
lab_stop_sluice
