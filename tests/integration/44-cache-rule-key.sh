#!/bin/bash
# Response cache, the rule is in the key: rule 1 (GET /cache/*, bearer
# token A) and rule 2 (any method, *.test /cache/*, bearer token B) both
# cache.  A GET stored under rule 1 is not served to a HEAD of the same URL
# that rule 2 decides, nor, once rule 1 is disabled, to a GET that rule 2
# decides: each goes to the upstream with rule 2's token.  Rule 2's own
# entry is then served to rule 2's requests; the host is in the key too.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('a', 'token-a-44'), ('b', 'token-b-44');
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 10, 'api.test', 'GET', '/cache/*', 'allow'),
		(2, 20, '*.test', NULL, '/cache/*', 'allow');
	INSERT INTO injections (rule_id, kind, secret) VALUES (1, 'bearer', 'a'), (2, 'bearer', 'b');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60), (2, 60);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# auth NAME: the Authorization the upstream saw for the request that made
# response NAME's body (the body echoes it masked).
auth() { lab_json "$(lab_upseen "$(cat "$LAB_DIR/$1.body")")" \
	'next((v for k, v in d["headers"] if k.lower() == "authorization"), "")'; }
# uauth TARGET: method, host and Authorization of each request the upstream
# got for TARGET, one line each.
uauth() {
	"$LAB_PY" -c '
import json, sys
for d in map(json.loads, open(sys.argv[1], encoding="utf-8")):
    if d.get("event") == "request" and d.get("path") == sys.argv[2]:
        h = {k.lower(): v for k, v in d["headers"]}
        print(d["method"], h.get("host"), h.get("authorization"))' "$LAB_REQLOG" "$1"
}

t='/cache/k?cc=max-age%3D60'
assert_eq 200 "$(lab_get g1 "https://api.test$t")" "status of GET 1 (rule 1)"
assert_eq "Bearer token-a-44" "$(auth g1)" "Authorization the upstream got for GET 1"
assert_eq 200 "$(lab_get g2 "https://api.test$t")" "status of GET 2 (rule 1)"
lab_assert_cs g2 "sluice; hit" "GET 2 (rule 1's entry)"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after two GETs under rule 1"

# HEAD: rule 2 decides; rule 1's GET entry is not its to use.
assert_eq 200 "$(lab_get h1 -I "https://api.test$t")" "status of a HEAD (rule 2)"
assert_not_contains "$(lab_hval h1 Cache-Status)" hit "Cache-Status of a HEAD that rule 2 decides"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got after a HEAD under rule 2"
assert_eq "Bearer token-b-44" "$(uauth "$t" | sed -n 2p | cut -d' ' -f3-)" \
	"Authorization the upstream got for the HEAD"

# Rule 1 disabled: rule 2 decides GETs too.
lab_rules_sql "UPDATE rules SET enabled = 0 WHERE id = 1" || fail "disabling rule 1"
probe_b() {
	probe=$((probe + 1))
	[ "$(lab_get probe "https://api.test/cache/probe?i=$probe")" = 200 ] && [ "$(auth probe)" = "Bearer token-b-44" ]
}
probe=0
lab_poll 5000 probe_b >/dev/null || fail "rule 2 does not decide GETs 5 s after rule 1 was disabled"

assert_eq 200 "$(lab_get g3 "https://api.test$t")" "status of GET 3 (rule 2)"
lab_assert_cs g3 "sluice; fwd=miss" "GET 3 (rule 2: rule 1's entry is not used)"
assert_eq "Bearer token-b-44" "$(auth g3)" "Authorization in the answer to GET 3"
assert_eq 3 "$(lab_uhits "$t")" "requests the upstream got after GET 3"
assert_eq 200 "$(lab_get g4 "https://api.test$t")" "status of GET 4 (rule 2)"
lab_assert_cs g4 "sluice; hit" "GET 4 (rule 2's own entry)"
assert_eq "Bearer token-b-44" "$(auth g4)" "Authorization in the answer to GET 4"
assert_eq 3 "$(lab_uhits "$t")" "requests the upstream got after GET 4"

# Same rule, same target, another host: another key.
assert_eq 200 "$(lab_get o1 "https://other.test$t")" "status of a GET to other.test (rule 2)"
lab_assert_cs o1 "sluice; fwd=miss" "GET to other.test"
assert_eq "GET api.test Bearer token-a-44
HEAD api.test Bearer token-b-44
GET api.test Bearer token-b-44
GET other.test Bearer token-b-44" "$(uauth "$t")" \
	"requests the upstream got for $t (method host Authorization)"

assert_eq 6 "$(lab_audit_wait 6 "path = '$t'")" "audit rows for $t"
assert_eq "forwarded|1|GET|api.test
cached|1|GET|api.test
forwarded|2|HEAD|api.test
forwarded|2|GET|api.test
cached|2|GET|api.test
forwarded|2|GET|other.test" \
	"$(lab_audit_sql "SELECT decision, rule_id, method, host FROM requests WHERE path = '$t' ORDER BY id")" \
	"audit rows for $t (decision|rule|method|host)"
lab_stop_sluice
