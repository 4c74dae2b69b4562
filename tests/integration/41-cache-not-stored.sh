#!/bin/bash
# Response cache, what is never stored: responses with Cache-Control
# no-store or private (two GETs, two upstream requests, each a miss); a
# response to a request carrying the client's own Authorization (RFC 9111,
# 3.5); POST responses (never served from the cache, not even to a POST).
# A successful POST, PUT, PATCH or DELETE to a URL drops its entry: the next
# GET goes to the upstream again (and is stored again); entries for other
# URLs stay.
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

twice() {	# twice TARGET WHAT [CURL-ARGS...]: two GETs, both to the upstream
	local t=$1 what=$2 i
	shift 2
	for i in 1 2; do
		assert_eq 200 "$(get r$i "$@" "https://api.test$t")" "status of GET $i ($what)"
		assert_eq "$i" "$(bn r$i)" "upstream counter in answer $i ($what)"
	done
	assert_cs r2 "sluice; fwd=miss" "second GET ($what)"
	assert_eq 2 "$(uhits "$t")" "requests the upstream got for two GETs ($what)"
}
twice '/cache/ns?cc=no-store' "no-store"
twice '/cache/ns2?cc=max-age%3D60,%20no-store' "max-age=60, no-store"
twice '/cache/priv?cc=private' "private"
twice '/cache/priv2?cc=private,%20max-age%3D60' "private, max-age=60"
twice '/cache/auth?cc=max-age%3D60' "the client's own Authorization" -H 'Authorization: Bearer client-own'

# POST is not answered from the cache.
t='/cache/post?cc=max-age%3D60'
for i in 1 2; do
	assert_eq 200 "$(get p$i -d "x$i" "https://api.test$t")" "status of POST $i"
	assert_eq "$i" "$(bn p$i)" "upstream counter in the answer to POST $i"
done
assert_eq 2 "$(uhits "$t")" "requests the upstream got for two POSTs"
# ... nor is its response served to a GET.
assert_eq 200 "$(get g "https://api.test$t")" "status of a GET after two POSTs"
assert_eq 3 "$(bn g)" "upstream counter in the answer to a GET after POSTs"

# Invalidation by each unsafe method.
keep='/cache/keep?cc=max-age%3D60'
assert_eq 200 "$(get k "https://api.test$keep")" "status of GET $keep"
for m in POST PUT PATCH DELETE; do
	t="/cache/inv-$m?cc=max-age%3D60"
	assert_eq 200 "$(get i1 "https://api.test$t")" "status of the first GET ($m)"
	assert_eq 200 "$(get i2 "https://api.test$t")" "status of the second GET ($m)"
	assert_cs i2 "sluice; hit" "second GET before the $m"
	assert_eq 1 "$(bn i2)" "upstream counter in the second GET before the $m"
	args=(-X "$m")
	[ "$m" = DELETE ] || args+=(-d body)
	assert_eq 200 "$(get u "${args[@]}" "https://api.test$t")" "status of the $m"
	assert_eq 2 "$(bn u)" "upstream counter in the answer to the $m"
	assert_eq 200 "$(get i3 "https://api.test$t")" "status of the GET after the $m"
	assert_cs i3 "sluice; fwd=miss" "GET after the $m"
	assert_eq 3 "$(bn i3)" "upstream counter in the GET after the $m"
	assert_eq 200 "$(get i4 "https://api.test$t")" "status of the second GET after the $m"
	assert_cs i4 "sluice; hit" "second GET after the $m (stored again)"
	assert_eq 3 "$(bn i4)" "upstream counter in the second GET after the $m"
	assert_eq 3 "$(uhits "$t")" "requests the upstream got ($m)"
done
assert_eq 200 "$(get k2 "https://api.test$keep")" "status of GET $keep after the others' invalidations"
assert_cs k2 "sluice; hit" "GET of a URL nobody invalidated"
assert_eq 1 "$(uhits "$keep")" "requests the upstream got for a URL nobody invalidated"
lab_stop_sluice
