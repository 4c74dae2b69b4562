#!/bin/bash
# Response cache, the client's request directives: "Cache-Control:
# no-cache" on a request for a fresh entry makes sluice consult the
# upstream (conditionally when the entry has a validator, and then a 304
# gets the client a 200 with the stored body; else a full fetch, which
# then replaces the entry); the client never gets a 304 it did not ask for.
# A request with "Cache-Control: no-store" goes to the upstream and its
# response is not stored.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" ||
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
# uhdr TARGET N FIELD: FIELD of the Nth request the upstream got for TARGET.
uhdr() {
	"$LAB_PY" -c '
import json, sys
reqs = [d for d in map(json.loads, open(sys.argv[1], encoding="utf-8"))
        if d.get("event") == "request" and d.get("path") == sys.argv[2]]
if len(reqs) >= int(sys.argv[3]):
    for k, v in reqs[int(sys.argv[3]) - 1]["headers"]:
        if k.lower() == sys.argv[4].lower():
            print(v)' "$LAB_REQLOG" "$1" "$2" "$3"
}

# With a validator.
t='/cache/nc?cc=max-age%3D60&etag=nc1'
assert_eq 200 "$(get v1 "https://api.test$t")" "status of the first GET (ETag)"
assert_eq 200 "$(get v2 "https://api.test$t")" "status of the second GET (ETag)"
assert_cs v2 "sluice; hit" "second GET (ETag)"
assert_eq 200 "$(get v3 -H 'Cache-Control: no-cache' "https://api.test$t")" \
	"status of a no-cache GET of a fresh entry with an ETag"
assert_eq 2 "$(uhits "$t")" "requests the upstream got after a no-cache GET (ETag)"
assert_not_contains "$(hval v3 Cache-Status)" "hit" "Cache-Status of a no-cache GET (ETag)"
if [ "$(uhdr "$t" 2 If-None-Match)" = '"nc1"' ]; then
	# revalidated: the 304 is sluice's, the client gets the stored answer
	cmp -s "$LAB_DIR/v1.body" "$LAB_DIR/v3.body" ||
		fail "the body after a no-cache revalidation differs from the stored one"
else
	assert_eq "" "$(uhdr "$t" 2 If-None-Match)" "If-None-Match the upstream got for a no-cache GET"
	assert_eq 2 "$(bn v3)" "upstream counter in the answer to an unconditional no-cache GET"
fi
n3=$(bn v3)
assert_eq 200 "$(get v4 "https://api.test$t")" "status of a GET after the no-cache one (ETag)"
assert_cs v4 "sluice; hit" "GET after the no-cache one (ETag)"
assert_eq "$n3" "$(bn v4)" "upstream counter in the GET after the no-cache one (ETag)"
assert_eq 2 "$(uhits "$t")" "requests the upstream got (ETag)"

# Without a validator: a full fetch, which is then the entry.
t='/cache/nc2?cc=max-age%3D60'
assert_eq 200 "$(get p1 "https://api.test$t")" "status of the first GET (no validator)"
assert_eq 200 "$(get p2 -H 'Cache-Control: no-cache' "https://api.test$t")" \
	"status of a no-cache GET of a fresh entry without validator"
assert_contains "$(hval p2 Cache-Status)" "sluice; fwd=" "Cache-Status of a no-cache GET (no validator)"
assert_eq 2 "$(bn p2)" "upstream counter in the answer to a no-cache GET (no validator)"
assert_eq "" "$(uhdr "$t" 2 If-None-Match)$(uhdr "$t" 2 If-Modified-Since)" \
	"conditional fields the upstream got (no validator)"
assert_eq 200 "$(get p3 "https://api.test$t")" "status of a GET after the no-cache one (no validator)"
assert_cs p3 "sluice; hit" "GET after the no-cache one (no validator)"
assert_eq 2 "$(bn p3)" "upstream counter in the GET after the no-cache one: the newer answer"
assert_eq 2 "$(uhits "$t")" "requests the upstream got (no validator)"

# no-store in the request: forwarded, not stored.
t='/cache/ns?cc=max-age%3D60'
assert_eq 200 "$(get s1 -H 'Cache-Control: no-store' "https://api.test$t")" "status of a no-store GET"
assert_eq 200 "$(get s2 "https://api.test$t")" "status of a GET after a no-store one"
assert_cs s2 "sluice; fwd=miss" "GET after a no-store one"
assert_eq 2 "$(bn s2)" "upstream counter in a GET after a no-store one"
assert_eq 200 "$(get s3 "https://api.test$t")" "status of the next GET"
assert_cs s3 "sluice; hit" "the next GET"
assert_eq 2 "$(uhits "$t")" "requests the upstream got (no-store request)"
lab_stop_sluice
