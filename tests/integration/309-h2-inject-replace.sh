#!/bin/bash
# Over HTTP/2, a credential the client sends itself for what a rule injects
# is replaced, never forwarded alongside, as 17 shows for HTTP/1.1: two
# authorization fields, two x-api-key fields, api_key twice and
# percent-encoded in :path; each time the upstream gets exactly the
# injected one, and the other fields and parameters stay.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok', 'tok-309a'), ('hdr', 'hdr-309c'), ('qs', 'qs-309d');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/bearer', 'allow'),
		(3, 'api.test', '/echo/header', 'allow'),
		(4, 'api.test', '/echo/query', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok'),
		(3, 'header', 'X-Api-Key', 'hdr'),
		(4, 'query', 'api_key', 'qs');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

get() {	# get PATH CURL_ARGS...: the /echo answer over h2, failing unless 200
	local p=$1 out
	shift
	out=$(lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code} %{http_version}' "$@" \
		"https://api.test$p") || fail "curl $p failed"
	assert_eq "200 2" "$out" "status and version of GET $p"
	lab_upseen "$(cat "$LAB_DIR/body")"	# what the upstream got
}
values() { "$@" | tr '\n' ' '; }

b=$(get /echo/bearer -H 'authorization: Basic Y2xpZW50OnB3' -H 'authorization: Bearer second')
assert_eq "Bearer tok-309a " "$(values lab_hdr "$b" Authorization)" \
	"Authorization the upstream got (client sent two)"

b=$(get /echo/header -H 'x-api-key: client-own' -H 'x-api-key: client-two' \
	-H 'x-api-key-extra: keep-me' -H 'authorization: Bearer not-replaced')
assert_eq "hdr-309c " "$(values lab_hdr "$b" X-Api-Key)" "X-Api-Key the upstream got (client sent two)"
assert_eq "keep-me " "$(values lab_hdr "$b" X-Api-Key-Extra)" "X-Api-Key-Extra (must stay)"
assert_eq "Bearer not-replaced " "$(values lab_hdr "$b" Authorization)" \
	"Authorization on a rule that injects only X-Api-Key (must stay)"

b=$(get '/echo/query?api_key=client1&q=1&api%5Fkey=client2&api_key_old=keep')
assert_eq "'qs-309d' " "$(values lab_param "$b" api_key)" \
	"api_key the upstream got (client sent it plain and percent-encoded)"
assert_eq "'1' " "$(values lab_param "$b" q)" "q (must stay)"
assert_eq "'keep' " "$(values lab_param "$b" api_key_old)" "api_key_old (must stay)"

assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
grep -a -q -e tok-309a -e hdr-309c -e qs-309d "$LAB_DIR/audit.db"* &&
	fail "a secret is in the audit database"
lab_stop_sluice
