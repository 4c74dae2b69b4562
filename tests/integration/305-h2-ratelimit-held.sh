#!/bin/bash
# Over HTTP/2 a stream held for its rate-limit token (delay mode) waits on
# its own timer: it goes through when the token is due, while a stream on
# the same connection for another rule is answered at once.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst, on_limit, max_delay_ms)
		VALUES (1, 1, 2, 1, 'delay', 5000);" || fail "inserting the rules"
lab_start_sluice --default-policy deny --workers 1

lab_curl --http2 --parallel -w '%{url_effective} %{http_code} %{http_version} %{num_connects} %{time_total}\n' \
	-o /dev/null https://api.test/echo/first -o /dev/null https://api.test/echo/held \
	-o /dev/null https://api.test/status/200 >"$LAB_DIR/out" || fail "curl --http2 --parallel failed"
cat "$LAB_DIR/out" >&2
row() { grep "^https://api.test/$1 " "$LAB_DIR/out"; }
read -r _ code ver _ held <<<"$(row echo/held)"
assert_eq "200 2" "$code $ver" "status and HTTP version of the held stream"
awk -v s="$held" 'BEGIN { exit !(s >= 1.5) }' || fail "the held stream took ${held} s; its token was due in 2 s"
read -r _ code ver _ other <<<"$(row status/200)"
assert_eq "200 2" "$code $ver" "status and HTTP version of the other rule's stream"
awk -v s="$other" 'BEGIN { exit !(s < 1.0) }' ||
	fail "the other rule's stream took ${other} s while one was held on its connection"
assert_eq 1 "$(awk '{ n += $4 } END { print n }' "$LAB_DIR/out")" "connections curl opened"

assert_eq 3 "$(lab_audit_wait 3 "status = 200")" "audit rows"
assert_eq "local" "$(lab_audit_sql "SELECT limit_source FROM requests WHERE path = '/echo/held'")" \
	"limit source of the held stream"
lab_stop_sluice
