#!/bin/bash
# Response cache, hit and miss: under a rule with a cache policy (ttl 60 s),
# the first GET goes to the upstream and carries "Cache-Status: sluice;
# fwd=miss"; the second is answered by sluice with the same status, fields
# and body, "Cache-Status: sluice; hit" and a numeric Age that grows; the
# upstream sees one request.  The audit says forwarded, then cached (with
# the status and the body's size).  A rule without a cache policy caches
# nothing.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# get NAME CURL-ARGS...: the response's head goes to $LAB_DIR/NAME.head, its
# body to NAME.body; prints the status.
get() {
	local n=$1
	shift
	lab_curl -D "$LAB_DIR/$n.head" -o "$LAB_DIR/$n.body" -w '%{http_code}' "$@" ||
		fail "curl $* failed"
}
# hval NAME FIELD: the first FIELD of response NAME.
hval() { tr -d '\r' <"$LAB_DIR/$1.head" | grep -i -m1 "^$2:" | sed 's/^[^:]*: *//; s/ *$//'; }
# bn NAME: the upstream's request counter for the target in response NAME's body.
bn() { lab_json "$(cat "$LAB_DIR/$1.body")" 'd["n"]'; }
# assert_cs NAME EXPECTED WHAT: response NAME's Cache-Status is EXPECTED
# (further parameters after it allowed).
assert_cs() {
	local v
	v=$(hval "$1" Cache-Status)
	case $v in
	"$2" | "$2;"*) ;;
	*) fail "$3: Cache-Status '$v', expected '$2'" ;;
	esac
}
# uhits TARGET: how many requests the upstream got for exactly TARGET.
uhits() {
	"$LAB_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    n += d.get("event") == "request" and d.get("path") == sys.argv[2]
print(n)' "$LAB_REQLOG" "$1"
}

t='/cache/hit?cc=max-age%3D60&etag=h1'
assert_eq 200 "$(get a "https://api.test$t")" "status of the first GET"
assert_cs a "sluice; fwd=miss" "first GET"
assert_eq 1 "$(bn a)" "upstream counter in the first answer"

assert_eq 200 "$(get b "https://api.test$t")" "status of the second GET"
assert_cs b "sluice; hit" "second GET"
cmp -s "$LAB_DIR/a.body" "$LAB_DIR/b.body" || fail "the cached body differs from the original"
for f in Content-Type Cache-Control ETag X-Upstream-Count Content-Length; do
	assert_eq "$(hval a $f)" "$(hval b $f)" "$f of the cached answer"
done
age=$(hval b Age)
[[ $age =~ ^[0-9]+$ ]] || fail "Age '$age' of a hit is not a number of seconds"
[ "$age" -le 5 ] || fail "Age $age of an entry stored a moment ago"
assert_eq 1 "$(uhits "$t")" "requests the upstream got after two GETs"

sleep 1.2
assert_eq 200 "$(get c "https://api.test$t")" "status of the third GET"
assert_cs c "sluice; hit" "third GET"
age3=$(hval c Age)
[[ $age3 =~ ^[0-9]+$ ]] || fail "Age '$age3' of a hit is not a number of seconds"
[ "$age3" -ge 1 ] || fail "Age $age3 more than a second after the entry was stored"
assert_eq 1 "$(bn c)" "upstream counter in the third answer"
assert_eq 1 "$(uhits "$t")" "requests the upstream got after three GETs"

# No cache policy, no cache.
for i in 1 2; do
	assert_eq 200 "$(get e$i https://api.test/echo/nocache)" "status of GET $i under a rule without a cache policy"
	assert_not_contains "$(hval e$i Cache-Status)" hit "Cache-Status under a rule without a cache policy"
done
assert_eq 2 "$(uhits /echo/nocache)" "requests the upstream got under a rule without a cache policy"

assert_eq 5 "$(lab_audit_wait 5)" "audit rows"
len=$(wc -c <"$LAB_DIR/a.body")
assert_eq "forwarded|200|1|GET|$t|$len
cached|200|1|GET|$t|$len
cached|200|1|GET|$t|$len
forwarded|200|2|GET|/echo/nocache
forwarded|200|2|GET|/echo/nocache" \
	"$(lab_audit_sql "SELECT decision, status, rule_id, method, path,
		CASE WHEN rule_id = 1 THEN resp_bytes END FROM requests ORDER BY id" | sed 's/|$//')" \
	"audit rows (decision|status|rule|method|path|resp_bytes)"
lab_stop_sluice
