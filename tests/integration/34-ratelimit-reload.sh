#!/bin/bash
# A limit changed by a reload keeps its bucket's level: with burst 3 used
# up, raising the limit to 4 per 3600 s (burst 4) does not refill it, the
# next request is still 429 (now under the new policy).  A rule with a new
# id starts with a full bucket.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst) VALUES (1, 3, 3600, 3);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# get PATH: "STATUS RETRY-AFTER RATELIMIT-POLICY" of GET https://api.test/PATH
get() {
	local code
	code=$(lab_curl -D "$LAB_DIR/head" -o /dev/null -w '%{http_code}' "https://api.test$1") ||
		fail "curl $1 failed"
	printf '%s %s %s\n' "$code" \
		"$(tr -d '\r' <"$LAB_DIR/head" | grep -i -m1 '^Retry-After:' | sed 's/^[^:]*: *//')" \
		"$(tr -d '\r' <"$LAB_DIR/head" | grep -i -m1 '^RateLimit-Policy:' | sed 's/^[^:]*: *//')"
}

for i in 1 2 3; do
	read -r code _ <<<"$(get "/echo/$i")"
	assert_eq 200 "$code" "status of request $i of a burst of 3"
done
read -r code ra policy <<<"$(get /echo/4)"
assert_eq 429 "$code" "status of the 4th request"
assert_eq '"rule-1";q=3;w=3600' "$policy" "RateLimit-Policy before the change"

lab_rules_sql "UPDATE rate_limits SET requests = 4, burst = 4 WHERE rule_id = 1" ||
	fail "updating the limit"
sleep 2.5	# the contract: a committed change takes effect within 2 s
read -r code ra policy <<<"$(get /echo/5)"
assert_eq 429 "$code" "status after raising the limit (the bucket's level is kept: empty)"
assert_eq '"rule-1";q=4;w=3600' "$policy" "RateLimit-Policy 2.5 s after the change (reloaded?)"
# At 4 per 3600 s the next token is at most 900 s away.
[ "$ra" -ge 1 ] && [ "$ra" -le 900 ] ||
	fail "Retry-After $ra after the change; at 4 per 3600 s a token is due within 900 s"

# A new rule (new id) in front of rule 1: a full bucket of its own.
lab_rules_sql "
	INSERT INTO rules (id, priority, host, action) VALUES (2, 50, 'api.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst) VALUES (2, 3, 3600, 3);" ||
	fail "inserting rule 2"
sleep 2.5
for i in 6 7 8; do
	read -r code _ <<<"$(get "/echo/$i")"
	assert_eq 200 "$code" "status of request $i (under new rule 2, a full bucket)"
done
read -r code ra policy <<<"$(get /echo/9)"
assert_eq 429 "$code" "status of the 4th request under rule 2"
assert_eq '"rule-2";q=3;w=3600' "$policy" "RateLimit-Policy under rule 2"

assert_eq 9 "$(lab_audit_wait 9)" "audit rows"
assert_eq "1|forwarded|200|/echo/1
1|forwarded|200|/echo/2
1|forwarded|200|/echo/3
1|rate_limited|429|/echo/4
1|rate_limited|429|/echo/5
2|forwarded|200|/echo/6
2|forwarded|200|/echo/7
2|forwarded|200|/echo/8
2|rate_limited|429|/echo/9" \
	"$(lab_audit_sql 'SELECT rule_id, decision, status, path FROM requests ORDER BY id')" \
	"audit rows (rule_id|decision|status|path)"
lab_stop_sluice
