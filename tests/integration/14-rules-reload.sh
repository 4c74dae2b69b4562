#!/bin/bash
# Rules are edited with sqlite3 while sluice runs: a committed change takes
# effect within 2 seconds without a restart, and a change the schema's CHECK
# constraints reject changes nothing.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny

code_of() { lab_curl -o /dev/null -w '%{http_code}' "$1"; }

# until_code WANT URL: polls URL (a new connection each time) for up to 4 s;
# prints the last status and the milliseconds it took.
until_code() {
	local start now code
	start=$(date +%s%N)
	while :; do
		code=$(code_of "$2")
		now=$(date +%s%N)
		[ "$code" = "$1" ] && break
		[ $(((now - start) / 1000000)) -gt 4000 ] && break
		sleep 0.1
	done
	printf '%s %s\n' "$code" $(((now - start) / 1000000))
}

# check_change WANT URL WHAT: the change shows within the contract's 2 s
# (plus slack for the polling itself).
check_change() {
	local code ms
	read -r code ms <<<"$(until_code "$1" "$2")"
	assert_eq "$1" "$code" "$3"
	[ "$ms" -le 3000 ] || fail "$3: took ${ms} ms to apply, the contract says 2 s"
}

assert_eq 200 "$(code_of https://api.test/echo)" "status with rule 1 allowing api.test"

lab_rules_sql "UPDATE rules SET action = 'deny' WHERE id = 1" || fail "updating rule 1"
check_change 403 https://api.test/echo "status after rule 1 became a deny rule"
assert_eq 1 "$(lab_json "$(lab_curl https://api.test/echo)" 'd["rule"]')" \
	"rule in the 403 body after the change"

# The schema refuses this, so sluice never sees it.
lab_rules_sql "UPDATE rules SET action = 'passthrough', path = '/x' WHERE id = 1" 2>/dev/null &&
	fail "sqlite3 accepted a passthrough rule with a path (schema CHECK missing)"

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (2, 'other.test', 'allow')" ||
	fail "inserting rule 2"
check_change 200 https://other.test/echo "status for other.test after inserting rule 2"
assert_eq 403 "$(code_of https://api.test/echo)" "status for api.test (rule 1 still denies)"

lab_rules_sql "DELETE FROM rules" || fail "deleting the rules"
check_change 403 https://other.test/echo "status for other.test once no rule is left (default deny)"
lab_stop_sluice
