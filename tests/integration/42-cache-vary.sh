#!/bin/bash
# Response cache and Vary: a response with "Vary: Accept-Language" is
# stored once per language: en, fr, en, fr reach the upstream twice and
# each language gets its own answer back; a request without the field is a
# variant of its own.  A response with "Vary: *" is never stored.
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

# lang NAME: the Accept-Language the upstream saw for response NAME.
lang() { lab_json "$(cat "$LAB_DIR/$1.body")" \
	'next((v for k, v in d["headers"] if k.lower() == "accept-language"), "")'; }

t='/cache/vary?cc=max-age%3D60&vary=Accept-Language'
assert_eq 200 "$(get en1 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 1st)"
assert_cs en1 "sluice; fwd=miss" "en, 1st"
assert_eq 200 "$(get fr1 -H 'Accept-Language: fr' "https://api.test$t")" "status (fr, 1st)"
assert_cs fr1 "sluice; fwd=miss" "fr, 1st (another variant)"
assert_eq 200 "$(get en2 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 2nd)"
assert_cs en2 "sluice; hit" "en, 2nd"
assert_eq 200 "$(get fr2 -H 'Accept-Language: fr' "https://api.test$t")" "status (fr, 2nd)"
assert_cs fr2 "sluice; hit" "fr, 2nd"
assert_eq 2 "$(uhits "$t")" "requests the upstream got for en, fr, en, fr"
assert_eq "1 en" "$(bn en2) $(lang en2)" "counter and language of the answer to en, 2nd"
assert_eq "2 fr" "$(bn fr2) $(lang fr2)" "counter and language of the answer to fr, 2nd"
assert_eq Accept-Language "$(hval en2 Vary)" "Vary of a cached answer"

# Without the field: a variant of its own.
assert_eq 200 "$(get no1 "https://api.test$t")" "status (no Accept-Language, 1st)"
assert_cs no1 "sluice; fwd=miss" "no Accept-Language, 1st"
assert_eq "3 " "$(bn no1) $(lang no1)" "counter and language (no Accept-Language, 1st)"
assert_eq 200 "$(get no2 "https://api.test$t")" "status (no Accept-Language, 2nd)"
assert_cs no2 "sluice; hit" "no Accept-Language, 2nd"
assert_eq 3 "$(bn no2)" "counter (no Accept-Language, 2nd)"
assert_eq 200 "$(get en3 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 3rd)"
assert_eq "1 en" "$(bn en3) $(lang en3)" "counter and language of the answer to en, 3rd"
assert_eq 3 "$(uhits "$t")" "requests the upstream got"

# Vary: * is never stored.
t='/cache/star?cc=max-age%3D60&vary=*'
for i in 1 2; do
	assert_eq 200 "$(get s$i -H 'Accept-Language: en' "https://api.test$t")" "status of GET $i (Vary: *)"
	assert_eq "$i" "$(bn s$i)" "upstream counter in answer $i (Vary: *)"
done
assert_cs s2 "sluice; fwd=miss" "second GET (Vary: *)"
assert_eq 2 "$(uhits "$t")" "requests the upstream got for two GETs (Vary: *)"
lab_stop_sluice
