#!/bin/bash
# sluice-audit's errors: a missing database is one line naming it (exit 1),
# so is a file that is no audit database; a bad flag or command is one line
# (exit 2); an unknown request id exits 1.  The file is never written.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
lab_curl -o /dev/null https://api.test/echo || fail "curl failed"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
lab_stop_sluice

# check WANT_RC WANT_TEXT ARGS: one line on stderr, containing WANT_TEXT.
check() {
	local want=$1 text=$2 rc
	shift 2
	"$SLUICE_AUDIT_TOOL" "$@" >"$LAB_DIR/out" 2>"$LAB_DIR/err"
	rc=$?
	assert_eq "$want" "$rc" "exit status of sluice-audit $*"
	assert_eq 1 "$(wc -l <"$LAB_DIR/err")" "stderr lines of sluice-audit $*"
	assert_contains "$(cat "$LAB_DIR/err")" "$text" "stderr of sluice-audit $*"
	assert_eq 0 "$(wc -c <"$LAB_DIR/out")" "stdout bytes of sluice-audit $*"
}
[ -x "$SLUICE_AUDIT_TOOL" ] || fail "no sluice-audit at $SLUICE_AUDIT_TOOL"
sum=$(sha256sum <"$LAB_DIR/audit.db")
check 1 "$LAB_DIR/nope.db" --db "$LAB_DIR/nope.db" summary
check 1 "$LAB_DIR/nope.db" --db "$LAB_DIR/audit.db" --db "$LAB_DIR/nope.db" tail
SLUICE_AUDIT=$LAB_DIR/gone.db check 1 "$LAB_DIR/gone.db" summary
check 1 "not a sluice audit database" --db "$LAB_DIR/rules.db" summary
check 1 "no request 999" --db "$LAB_DIR/audit.db" show 999
check 2 "--bogus" --db "$LAB_DIR/audit.db" --bogus summary
check 2 "--since" --db "$LAB_DIR/audit.db" summary --since 5y
check 2 "--client" --db "$LAB_DIR/audit.db" summary --client api.test
check 2 "--decision" --db "$LAB_DIR/audit.db" summary --decision allowed
check 2 "--rule" --db "$LAB_DIR/audit.db" summary --rule x
check 2 "frob" --db "$LAB_DIR/audit.db" frob
check 2 "show" --db "$LAB_DIR/audit.db" show
check 2 "command" --db "$LAB_DIR/audit.db"
SLUICE_AUDIT=$LAB_DIR/audit.db "$SLUICE_AUDIT_TOOL" summary >/dev/null ||
	fail "\$SLUICE_AUDIT is not the default --db"
assert_eq "$sum" "$(sha256sum <"$LAB_DIR/audit.db")" "the audit database after reading it"
