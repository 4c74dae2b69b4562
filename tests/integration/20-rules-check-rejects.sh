#!/bin/bash
# Rows the schema refuses (an injection kind it does not know, a port out of
# range) make sqlite3 exit non-zero with a CHECK constraint message; nothing
# of such a change, nor of the transaction it was in, reaches sluice, which
# keeps serving the rules it had.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok20', 'good-20a');
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO injections (rule_id, kind, secret) VALUES (1, 'bearer', 'tok20');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

still_old() {	# still_old WHAT: api.test gets the old injection, other.test the default deny
	local b code
	b=$(lab_curl https://api.test/echo) || fail "curl failed ($1)"
	assert_eq "Bearer good-20a" "$(lab_hdr "$(lab_upseen "$b")" Authorization)" "Authorization at the upstream $1"
	code=$(lab_curl -o /dev/null -w '%{http_code}' https://other.test/echo) || fail "curl failed ($1)"
	assert_eq 403 "$code" "status for other.test $1"
}

# refused SQL WHAT: sqlite3 must exit non-zero with a CHECK constraint message
refused() {
	local out rc
	out=$(printf '%s\n' "$1" | sqlite3 -bail -cmd '.timeout 5000' "$LAB_DIR/rules.db" 2>&1)
	rc=$?
	[ $rc != 0 ] || fail "sqlite3 accepted $2"
	assert_contains "$out" "CHECK constraint failed" "sqlite3's message for $2"
}

still_old "before any change"

refused "INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'cookie', 'session', 'tok20');" \
	"an injection of kind 'cookie'"
refused "INSERT INTO rules (id, host, port, action) VALUES (2, 'other.test', 0, 'allow');" \
	"a rule with port 0"
refused "UPDATE rules SET port = 70000 WHERE id = 1;" "port 70000 on rule 1"
# A transaction that fails half-way changes nothing, not even its valid part.
refused "BEGIN;
	UPDATE secrets SET value = 'bad-20b' WHERE name = 'tok20';
	INSERT INTO rules (id, host, action) VALUES (3, 'other.test', 'allow');
	INSERT INTO injections (rule_id, kind, secret) VALUES (3, 'cookie', 'tok20');
	COMMIT;" "a transaction with an injection of kind 'cookie'"

assert_eq "good-20a|1|1" \
	"$(lab_rules_sql "SELECT (SELECT value FROM secrets), (SELECT count(*) FROM rules), (SELECT count(*) FROM injections)")" \
	"rules database after the refused changes (secret|rules|injections)"

# Give a reload every chance to happen (the contract allows 2 s), then check.
sleep 2.5
still_old "2.5 s after the refused changes"
kill -HUP "$LAB_SLUICE_PID"
sleep 0.5
still_old "after SIGHUP"
kill -0 "$LAB_SLUICE_PID" 2>/dev/null || fail "sluice is gone"

# A valid change still goes through afterwards.
lab_rules_sql "UPDATE secrets SET value = 'new-20c' WHERE name = 'tok20'" || fail "updating the secret"
new_tok() { [ "$(lab_hdr "$(lab_upseen "$(lab_curl https://api.test/echo)")" Authorization 2>/dev/null)" = "Bearer new-20c" ]; }
ms=$(lab_poll 3000 new_tok) || fail "a valid change after the refused ones did not apply within ${ms} ms"
lab_stop_sluice
