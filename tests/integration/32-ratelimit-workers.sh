#!/bin/bash
# A rule's bucket is shared by every connection and every worker thread:
# with --workers 2 and 20 per 3600 s (burst 20), 100 requests from 10
# parallel connections at a time get exactly 20 answers of 200 (plus what
# the bucket legitimately refills during the test: 20 / 3600 s), the rest
# 429; and so do 40 requests released at the same moment on 40 connections.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/a*', 'allow'),
		(2, 'api.test', '/echo/b*', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst) VALUES
		(1, 20, 3600, 20),
		(2, 20, 3600, 20);" || fail "inserting the rules"
lab_start_sluice --default-policy deny --workers 2

# check_counts RULE CODES ELAPSED_MS N: CODES (lab_codes output) has only 200
# and 429, and between 20 and the bucket's bound of 200s.
check_counts() {
	local rule=$1 codes=$2 ms=$3 n=$4 ok limited bound
	ok=$(printf '%s\n' "$codes" | awk '$1 == 200 { print $2 }')
	limited=$(printf '%s\n' "$codes" | awk '$1 == 429 { print $2 }')
	assert_eq "$n" "$((${ok:-0} + ${limited:-0}))" "rule $rule: answers that were 200 or 429 (got: $(echo $codes))"
	bound=$((20 + ms * 20 / 3600000))
	[ "${ok:-0}" -ge 20 ] && [ "${ok:-0}" -le "$bound" ] ||
		fail "rule $rule: ${ok:-0} requests passed; burst 20 plus the refill over ${ms} ms allows 20 to $bound"
	printf '%s\n' "${ok:-0}"
}

# Rule 1: 100 requests, 10 at a time, each on a new connection (so both
# workers get some).
start=$(date +%s%N)
LAB_CURL_TIMEOUT=120 lab_curl --parallel --parallel-max 10 -H 'Connection: close' \
	-o /dev/null -w '%{http_code}\n' 'https://api.test/echo/a?n=[1-100]' \
	>"$LAB_DIR/codes1" 2>"$LAB_DIR/curl1.err"
ms1=$((($(date +%s%N) - start) / 1000000))
ok1=$(check_counts 1 "$(lab_codes <"$LAB_DIR/codes1")" "$ms1" 100) || exit 1

# Rule 2: 40 connections, then 40 requests at once.
start=$(date +%s%N)
lab_burst 40 https://api.test/echo/b >"$LAB_DIR/codes2" || fail "lab_burst failed"
ms2=$((($(date +%s%N) - start) / 1000000))
ok2=$(check_counts 2 "$(lab_codes <"$LAB_DIR/codes2")" "$ms2" 40) || exit 1

assert_eq "$ok1" "$(lab_upstream_hits /echo/a)" "rule 1: requests that reached the upstream"
assert_eq "$ok2" "$(lab_upstream_hits /echo/b)" "rule 2: requests that reached the upstream"
assert_eq 140 "$(lab_audit_wait 140)" "audit rows"
assert_eq "1|forwarded|200|$ok1
1|rate_limited|429|$((100 - ok1))
2|forwarded|200|$ok2
2|rate_limited|429|$((40 - ok2))" \
	"$(lab_audit_sql 'SELECT rule_id, decision, status, count(*) FROM requests
		GROUP BY rule_id, decision, status ORDER BY rule_id, decision')" \
	"audit rows per (rule|decision|status|count)"
lab_stop_sluice
