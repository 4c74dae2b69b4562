#!/bin/bash
# Credential injection, each kind as the upstream receives it: bearer,
# basic (base64 of user:password), header, query (percent-encoded so the
# upstream decodes the exact bytes), and several at once on one rule; the
# audit row names what was injected and shows a query secret as ***.  Only
# the rule that decides injects: a later matching rule's injections are not
# added.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

# A query value with every character that means something in a query string.
qsecret='q&v=1 2+3/4%5?6#7;8'
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES
		('tok', 'bearer-tok-16a'),
		('cred', 'alice:p@ss:w0rd'),
		('hdr', 'hdr-key-16b'),
		('qs', '$qsecret'),
		('other', 'other-16c');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/bearer', 'allow'),
		(2, 'api.test', '/echo/basic', 'allow'),
		(3, 'api.test', '/echo/header', 'allow'),
		(4, 'api.test', '/echo/query', 'allow'),
		(5, 'api.test', '/echo/all', 'allow'),
		(6, 'api.test', '/echo/none', 'allow');
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(7, 200, 'api.test', '/echo/*', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok'),
		(2, 'basic', NULL, 'cred'),
		(3, 'header', 'X-Api-Key', 'hdr'),
		(4, 'query', 'api_key', 'qs'),
		(5, 'bearer', NULL, 'tok'),
		(5, 'header', 'X-Api-Key', 'hdr'),
		(5, 'header', 'X-Other', 'other'),
		(5, 'query', 'api_key', 'qs'),
		(7, 'header', 'X-Catchall', 'other');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

get() {	# get PATH: what the upstream got for it, failing unless 200
	local code
	code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' "https://api.test$1") ||
		fail "curl $1 failed"
	assert_eq 200 "$code" "status of GET $1"
	lab_upseen "$(cat "$LAB_DIR/body")"
}

# bearer
b=$(get /echo/bearer)
assert_eq "Bearer bearer-tok-16a" "$(lab_hdr "$b" Authorization)" "Authorization the upstream got (bearer)"

# basic: exactly base64("alice:p@ss:w0rd")
b=$(get /echo/basic)
auth=$(lab_hdr "$b" Authorization)
assert_eq "Basic $(printf '%s' 'alice:p@ss:w0rd' | base64 -w0)" "$auth" "Authorization the upstream got (basic)"
assert_eq "alice:p@ss:w0rd" "$(printf '%s' "${auth#Basic }" | base64 -d)" "decoded basic credential"

# header
b=$(get /echo/header)
assert_eq "hdr-key-16b" "$(lab_hdr "$b" X-Api-Key)" "X-Api-Key the upstream got"
assert_eq "" "$(lab_hdr "$b" Authorization)" "Authorization on the header-only rule"

# query: the client's own parameters stay, the secret decodes exactly
b=$(get '/echo/query?q=1')
assert_eq "$(lab_py_repr "$qsecret")" "$(lab_param "$b" api_key)" "api_key the upstream decoded"
assert_eq "'1'" "$(lab_param "$b" q)" "the client's own parameter q"
path=$(lab_json "$b" 'd["path"]')
assert_eq /echo/query "${path%%\?*}" "path the upstream got"
assert_not_contains "$path" "#" "target the upstream got (a raw '#')"
assert_not_contains "$path" " " "target the upstream got (a raw space)"
b=$(get /echo/query)
assert_eq "$(lab_py_repr "$qsecret")" "$(lab_param "$b" api_key)" "api_key added to a target without a query"

# several at once
b=$(get '/echo/all?q=2')
assert_eq "Bearer bearer-tok-16a" "$(lab_hdr "$b" Authorization)" "Authorization (rule with four injections)"
assert_eq "hdr-key-16b" "$(lab_hdr "$b" X-Api-Key)" "X-Api-Key (rule with four injections)"
assert_eq "other-16c" "$(lab_hdr "$b" X-Other)" "X-Other (rule with four injections)"
assert_eq "$(lab_py_repr "$qsecret")" "$(lab_param "$b" api_key)" "api_key (rule with four injections)"
assert_eq "'2'" "$(lab_param "$b" q)" "q (rule with four injections)"

# a rule without injections adds nothing
b=$(get /echo/none)
assert_eq "" "$(lab_hdr "$b" Authorization)$(lab_hdr "$b" X-Api-Key)" "credentials on a rule without injections"
assert_eq /echo/none "$(lab_json "$b" 'd["path"]')" "path on a rule without injections"

# rule 7 (tried after the others) only where none of them matches
b=$(get /echo/unlisted)
assert_eq "other-16c" "$(lab_hdr "$b" X-Catchall)" "X-Catchall from rule 7"
assert_eq 0 "$(grep '"event": "request"' "$LAB_REQLOG" | grep -v '"/echo/unlisted"' | grep -c X-Catchall)" \
	"requests decided by rules 1-6 that also got rule 7's X-Catchall"

# The audit: names, never values; the query secret masked.
assert_eq 8 "$(lab_audit_wait 8)" "audit rows"
row() { lab_audit_sql "SELECT rule_id, path, coalesce(injected, '') FROM requests WHERE id = $1"; }
# sorted names, so the test does not depend on the order they are listed in
names() {
	lab_audit_sql "SELECT injected FROM requests WHERE id = $1" |
		tr ',' '\n' | sed 's/^ *//; s/ *$//' | LC_ALL=C sort | paste -sd, -
}
assert_eq "1|/echo/bearer|Authorization" "$(row 1)" "audit row (rule|path|injected), bearer"
assert_eq "2|/echo/basic|Authorization" "$(row 2)" "audit row, basic"
assert_eq "3|/echo/header|X-Api-Key" "$(row 3)" "audit row, header"
assert_eq "4|/echo/query?q=1&api_key=***|api_key" "$(row 4)" "audit row, query"
assert_eq "4|/echo/query?api_key=***|api_key" "$(row 5)" "audit row, query added to no query"
assert_eq "5|/echo/all?q=2&api_key=***" "$(lab_audit_sql 'SELECT rule_id, path FROM requests WHERE id = 6')" \
	"audit row (rule|path), four injections"
assert_eq "Authorization,X-Api-Key,X-Other,api_key" "$(names 6)" "injected names, four injections"
assert_eq "6|/echo/none|" "$(row 7)" "audit row, no injections"
assert_eq "7|/echo/unlisted|X-Catchall" "$(row 8)" "audit row, rule 7"
assert_eq 8 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'forwarded' AND status = 200")" \
	"forwarded 200 rows"
lab_stop_sluice
