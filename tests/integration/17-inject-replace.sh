#!/bin/bash
# A credential the client sends itself for a header or query parameter that
# the rule injects is replaced, never forwarded alongside: the upstream gets
# exactly one, the injected one; everything else the client sent stays.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES
		('tok', 'tok-17a'), ('cred', 'bob:pw-17b'), ('hdr', 'hdr-17c'), ('qs', 'qs-17d');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/bearer', 'allow'),
		(2, 'api.test', '/echo/basic', 'allow'),
		(3, 'api.test', '/echo/header', 'allow'),
		(4, 'api.test', '/echo/query', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok'),
		(2, 'basic', NULL, 'cred'),
		(3, 'header', 'X-Api-Key', 'hdr'),
		(4, 'query', 'api_key', 'qs');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

get() {	# get PATH CURL_ARGS...: what the upstream got for it, failing unless 200
	local p=$1 code
	shift
	code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' "$@" "https://api.test$p") ||
		fail "curl $p failed"
	assert_eq 200 "$code" "status of GET $p"
	lab_upseen "$(cat "$LAB_DIR/body")"
}

b=$(get /echo/bearer -H 'Authorization: Bearer client-own')
assert_eq "Bearer tok-17a" "$(lab_hdr "$b" Authorization)" "Authorization the upstream got (client sent a bearer token)"

b=$(get /echo/bearer -H 'authorization: Basic Y2xpZW50OnB3' -H 'AUTHORIZATION: Bearer second')
assert_eq "Bearer tok-17a" "$(lab_hdr "$b" Authorization)" \
	"Authorization the upstream got (client sent two, in other cases)"

b=$(get /echo/basic -H 'Authorization: Bearer client-own')
assert_eq "Basic $(printf '%s' 'bob:pw-17b' | base64 -w0)" "$(lab_hdr "$b" Authorization)" \
	"Authorization the upstream got (basic rule, client sent a bearer token)"

b=$(get /echo/header -H 'X-Api-Key: client-own' -H 'x-api-key: client-two' -H 'X-Api-Key-Extra: keep-me' \
	-H 'Authorization: Bearer not-replaced')
assert_eq "hdr-17c" "$(lab_hdr "$b" X-Api-Key)" "X-Api-Key the upstream got (client sent two)"
assert_eq "keep-me" "$(lab_hdr "$b" X-Api-Key-Extra)" "X-Api-Key-Extra (not injected, must stay)"
assert_eq "Bearer not-replaced" "$(lab_hdr "$b" Authorization)" \
	"Authorization on a rule that injects only X-Api-Key (must stay)"

b=$(get '/echo/query?api_key=client1&q=1&api_key=client2&api_key_old=keep&xapi_key=keep2')
assert_eq "'qs-17d'" "$(lab_param "$b" api_key)" "api_key the upstream got (client sent two)"
assert_eq "'1'" "$(lab_param "$b" q)" "q (must stay)"
assert_eq "'keep'" "$(lab_param "$b" api_key_old)" "api_key_old (must stay)"
assert_eq "'keep2'" "$(lab_param "$b" xapi_key)" "xapi_key (must stay)"

b=$(get '/echo/query?api_key&q=2&api_key=')
assert_eq "'qs-17d'" "$(lab_param "$b" api_key)" "api_key the upstream got (client sent it bare and empty)"
assert_eq "'2'" "$(lab_param "$b" q)" "q (must stay)"

# The same parameter name, percent-encoded: the upstream decodes it to api_key.
b=$(get '/echo/query?api%5Fkey=client3&q=3')
assert_eq "'qs-17d'" "$(lab_param "$b" api_key)" "api_key the upstream got (client sent api%5Fkey)"

# Two requests on one kept-alive connection: each one is rewritten.
conns=$(lab_curl -o "$LAB_DIR/one" -o "$LAB_DIR/two" -w '%{num_connects} ' \
	-H 'Authorization: Bearer client-own' \
	https://api.test/echo/bearer https://api.test/echo/bearer) || fail "curl with two requests failed"
assert_eq "1 0 " "$conns" "connections curl opened for the two requests"
assert_eq "Bearer tok-17a" "$(lab_hdr "$(lab_upseen "$(cat "$LAB_DIR/one")")" Authorization)" \
	"Authorization, first request on one connection"
assert_eq "Bearer tok-17a" "$(lab_hdr "$(lab_upseen "$(cat "$LAB_DIR/two")")" Authorization)" \
	"Authorization, second request on one connection"

# The audit names what was injected and masks the one api_key left.
assert_eq 9 "$(lab_audit_wait 9)" "audit rows"
paths=$(lab_audit_sql "SELECT path FROM requests WHERE rule_id = 4 ORDER BY id")
while read -r p; do
	n=$("$LAB_PY" -c '
import sys, urllib.parse
q = urllib.parse.urlsplit(sys.argv[1]).query
print(",".join(v for k, v in urllib.parse.parse_qsl(q, keep_blank_values=True) if k == "api_key"))' "$p")
	assert_eq "***" "$n" "api_key values in the audited path $p"
done <<<"$paths"
assert_eq "Authorization|Authorization|Authorization|X-Api-Key|api_key|api_key|api_key|Authorization|Authorization" \
	"$(lab_audit_sql "SELECT injected FROM requests ORDER BY id" | paste -sd'|' -)" "injected, per request"
assert_not_contains "$(lab_audit_sql .dump)" "qs-17d" "audit database"
lab_stop_sluice
