#!/bin/bash
# Secrets from sluice's environment (env:VAR) and from files (file:/path, one
# trailing newline stripped).  A rule whose secret cannot be resolved (an
# unset variable, a missing file, a secret name with no secrets row) is
# logged with its id and the secret's name and skipped: the request falls to
# the next rule, or to the default policy.  SIGHUP re-reads the files.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

printf 'file-secret-18b\n' >"$LAB_DIR/token"
printf 'file-nonl-18c' >"$LAB_DIR/token-nonl"
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES
		('env_hdr_18', 'env:SLUICE_TEST_HDR_18'),
		('file_tok_18', 'file:$LAB_DIR/token'),
		('file_q_18', 'file:$LAB_DIR/token-nonl'),
		('missing_env_18', 'env:SLUICE_TEST_UNSET_18'),
		('fallback_18', 'fallback-18d'),
		('missing_file_18', 'file:$LAB_DIR/not-there');
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(1, 100, 'api.test', '/echo/env', 'allow'),
		(2, 100, 'api.test', '/echo/file', 'allow'),
		(3, 100, 'api.test', '/echo/file-nonl', 'allow'),
		(31, 10, 'api.test', '/echo/fallback', 'allow'),
		(32, 20, 'api.test', '/echo/fallback', 'allow'),
		(33, 100, 'other.test', NULL, 'allow'),
		(34, 100, 'evil.test', NULL, 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'header', 'X-Env-Key', 'env_hdr_18'),
		(2, 'bearer', NULL, 'file_tok_18'),
		(3, 'query', 'key', 'file_q_18'),
		(31, 'header', 'X-Missing', 'missing_env_18'),
		(32, 'header', 'X-Fallback', 'fallback_18'),
		(33, 'header', 'X-Missing-File', 'missing_file_18'),
		(34, 'header', 'X-No-Such', 'no_such_secret_18');" || fail "inserting the rules"

export SLUICE_TEST_HDR_18=env-secret-18a
unset SLUICE_TEST_UNSET_18
lab_start_sluice --default-policy deny
# What sluice read at start-up counts, not the variable's later value.
export SLUICE_TEST_HDR_18=changed-later

get() {	# get URL WANT_STATUS: the answer's body
	local code
	code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' "$1") || fail "curl $1 failed"
	assert_eq "$2" "$code" "status of GET $1"
	if [ "$2" = 200 ]; then
		lab_upseen "$(cat "$LAB_DIR/body")"	# what the upstream got
	else
		cat "$LAB_DIR/body"
	fi
}

b=$(get https://api.test/echo/env 200)
assert_eq env-secret-18a "$(lab_hdr "$b" X-Env-Key)" "X-Env-Key from env:SLUICE_TEST_HDR_18"
b=$(get https://api.test/echo/file 200)
assert_eq "Bearer file-secret-18b" "$(lab_hdr "$b" Authorization)" \
	"Authorization from a file ending in a newline"
b=$(get https://api.test/echo/file-nonl 200)
assert_eq "'file-nonl-18c'" "$(lab_param "$b" key)" "key from a file without a trailing newline"

# Rule 31's variable is unset: skipped, so rule 32 decides.
b=$(get https://api.test/echo/fallback 200)
assert_eq "" "$(lab_hdr "$b" X-Missing)" "X-Missing (rule 31 must be skipped)"
assert_eq fallback-18d "$(lab_hdr "$b" X-Fallback)" "X-Fallback (rule 32 decides instead)"

# Rules 33 and 34 are skipped and nothing else matches: the default policy.
b=$(get https://other.test/echo 403)
assert_eq null "$(lab_json "$b" 'd["rule"]')" "rule in the 403 for other.test (rule 33 skipped: missing file)"
b=$(get https://evil.test/echo 403)
assert_eq null "$(lab_json "$b" 'd["rule"]')" "rule in the 403 for evil.test (rule 34 skipped: no such secret)"

# The log names each skipped rule's id and its secret's name.
logs_rule() {	# logs_rule ID SECRET_NAME
	lab_log_wait "((^|[^0-9])$1([^0-9]|\$).*$2)|($2.*(^|[^0-9])$1([^0-9]|\$))" 2 >/dev/null ||
		fail "sluice's log has no line naming rule $1 and secret $2"
}
logs_rule 31 missing_env_18
logs_rule 33 missing_file_18
logs_rule 34 no_such_secret_18

# The missing file appears and the token file is rotated; SIGHUP reloads.
printf 'now-there-18e\n' >"$LAB_DIR/not-there"
printf 'rotated-18f\n' >"$LAB_DIR/token"
kill -HUP "$LAB_SLUICE_PID"
has_file_hdr() {
	[ "$(lab_hdr "$(lab_upseen "$(lab_curl https://other.test/echo)")" X-Missing-File 2>/dev/null)" = \
		now-there-18e ]
}
ms=$(lab_poll 3000 has_file_hdr) || fail "other.test did not get X-Missing-File from the new file ${ms} ms after SIGHUP"
b=$(get https://api.test/echo/file 200)
assert_eq "Bearer rotated-18f" "$(lab_hdr "$b" Authorization)" "Authorization after the file changed and SIGHUP"
b=$(get https://api.test/echo/env 200)
assert_eq env-secret-18a "$(lab_hdr "$b" X-Env-Key)" "X-Env-Key after SIGHUP (sluice's own environment)"

# Audit: the skipped rule never shows, values never do.
assert_eq "32|X-Fallback" \
	"$(lab_audit_sql "SELECT rule_id, injected FROM requests WHERE path = '/echo/fallback'")" \
	"audit row of the fallback request (rule_id|injected)"
dump=$(lab_audit_sql .dump)
for v in env-secret-18a file-secret-18b file-nonl-18c fallback-18d now-there-18e rotated-18f; do
	assert_not_contains "$dump" "$v" "audit database"
	assert_not_contains "$(cat "$LAB_DIR/sluice.log")" "$v" "sluice's log"
done
lab_stop_sluice
